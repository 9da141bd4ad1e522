package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

const leaseCols = "l.id, l.subscription_id, l.device_row_id, d.device_id, d.hostname, l.started_at, l.expires_at, l.borrowed, l.returned_at, l.returned_by"

func scanLease(row scanner, l *syncserver.Lease) error {
	return row.Scan(&l.ID, &l.SubscriptionID, &l.DeviceRowID, &l.DeviceID, &l.Hostname, tm(&l.StartedAt), tm(&l.ExpiresAt), &l.Borrowed,
		tmn(&l.ReturnedAt), &l.ReturnedBy)
}

// lockSubscription serialises the transactions that count a
// subscription's leases: on PostgreSQL it takes the subscription row's lock
// (SELECT ... FOR UPDATE) until the transaction ends, so that checkouts of
// one subscription run one at a time on any number of replicas; SQLite's
// writes go through one connection of one process, one transaction at a
// time, already. It refuses a subscription that is not active.
func (s *Store) lockSubscription(ctx context.Context, id string) (places int, err error) {
	q := `SELECT status, floating, max_devices FROM subscriptions WHERE id = $1`
	if s.d.Name == "postgres" {
		q += ` FOR UPDATE`
	}
	var status string
	var floating bool
	err = s.writer().QueryRowContext(ctx, q, id).Scan(&status, &floating, &places)
	if err == sql.ErrNoRows {
		return 0, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeSubscriptionNotFound, "subscription %s not found", id)
	}
	if err != nil {
		return 0, s.dbErr("lock subscription", err)
	}
	if status != syncserver.SubscriptionActive {
		return 0, syncserver.Errorf(syncserver.KindForbidden, syncserver.CodeLicenseInactive, "the subscription is %s", status)
	}
	if !floating {
		return 0, syncserver.Errorf(syncserver.KindConflict, syncserver.CodeNotFloating, "this license is not floating (any more): activate it to take a seat of its own")
	}
	return places, nil
}

// CheckoutLease: see syncserver.LeaseStore.
func (s *Store) CheckoutLease(ctx context.Context, c syncserver.LeaseCheckout) (*syncserver.Lease, *syncserver.Device, error) {
	if err := given("checkout", c.At); err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		lease, dev, err := s.checkout(ctx, c)
		if err == errRaced && attempt < 3 {
			continue
		}
		if err == errRaced {
			return nil, nil, syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "checkout of %s keeps racing; try again", c.DeviceID)
		}
		return lease, dev, err
	}
}

func (s *Store) checkout(ctx context.Context, c syncserver.LeaseCheckout) (*syncserver.Lease, *syncserver.Device, error) {
	var lease *syncserver.Lease
	var dev *syncserver.Device
	err := s.inTx(ctx, func(tx *Store) error {
		// The places are the locked row's: terms read before the lock may
		// have changed since.
		places, err := tx.lockSubscription(ctx, c.SubscriptionID)
		if err != nil {
			return err
		}
		c.Places, c.Floating = places, true
		var live int
		var firstT time.Time
		var firstP *time.Time
		err = tx.writer().QueryRowContext(ctx, `SELECT COUNT(*), MIN(l.expires_at) FROM leases l
			WHERE l.subscription_id = $1 AND l.returned_at IS NULL AND l.expires_at > $2
			AND l.device_row_id NOT IN (SELECT d.id FROM devices d WHERE d.subscription_id = $1 AND d.device_id = $3)`,
			c.SubscriptionID, tx.t(c.At), c.DeviceID).Scan(&live, tmn(&firstP))
		if err != nil {
			return tx.dbErr("count leases", err)
		}
		if live >= c.Places {
			if firstP != nil {
				firstT = *firstP
			}
			wait := firstT.Sub(c.At)
			if wait < time.Second {
				wait = time.Second
			}
			return &syncserver.Error{Kind: syncserver.KindConflict, Code: syncserver.CodeNoFreeSeat, RetryAfter: wait.Round(time.Second),
				Message: "all " + itoa(c.Places) + " floating seats are in use; the first comes free at " + firstT.UTC().Format(time.RFC3339) + ": try again then"}
		}
		r := newRollup()
		if dev, _, err = tx.activateIn(ctx, c.Activation, r); err != nil {
			return err
		}
		if err := r.flush(ctx, tx); err != nil {
			return err
		}
		// One row per device: a renewal keeps the lease's start; a new
		// lease (another id) starts now.
		var started time.Time
		err = tx.writer().QueryRowContext(ctx, `INSERT INTO leases (device_row_id, id, subscription_id, started_at, expires_at, borrowed, returned_at, returned_by)
			VALUES ($1, $2, $3, $4, $5, $6, NULL, '')
			ON CONFLICT (device_row_id) DO UPDATE SET
				started_at = CASE WHEN leases.id = excluded.id THEN leases.started_at ELSE excluded.started_at END,
				id = excluded.id, subscription_id = excluded.subscription_id, expires_at = excluded.expires_at,
				borrowed = excluded.borrowed, returned_at = NULL, returned_by = ''
			RETURNING started_at`,
			dev.ID, c.LeaseID, c.SubscriptionID, tx.t(c.At), tx.t(c.ExpiresAt), c.Borrowed).Scan(tm(&started))
		if err != nil {
			return tx.dbErr("write lease", err)
		}
		lease = &syncserver.Lease{ID: c.LeaseID, SubscriptionID: c.SubscriptionID, DeviceRowID: dev.ID, DeviceID: dev.DeviceID, Hostname: dev.Hostname,
			StartedAt: started, ExpiresAt: c.ExpiresAt.UTC().Truncate(time.Millisecond), Borrowed: c.Borrowed}
		return nil
	})
	return lease, dev, err
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// RenewLease: see syncserver.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, deviceRowID, leaseID string, now, until time.Time, file *syncserver.LicenseFileRecord) error {
	return s.inTx(ctx, func(tx *Store) error {
		l, err := tx.GetLease(ctx, deviceRowID)
		if err != nil && !isNotFound(err) {
			return err
		}
		if err == nil {
			places, err := tx.lockSubscription(ctx, l.SubscriptionID)
			if err != nil {
				return err
			}
			// Seats lowered meanwhile: the leases that started first keep
			// renewing, the later ones end with their time.
			var before int
			if err := tx.writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM leases WHERE subscription_id = $1 AND returned_at IS NULL AND expires_at > $2
				AND device_row_id <> $3 AND (started_at < $4 OR (started_at = $4 AND id < $5))`,
				l.SubscriptionID, tx.t(now), deviceRowID, tx.t(l.StartedAt), l.ID).Scan(&before); err != nil {
				return tx.dbErr("count leases", err)
			}
			if before >= places {
				return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeLeaseExpired, "the license's seats were lowered: this lease ends with its time")
			}
		}
		// Guarded by the lease's own state under the lock: a lease that
		// ended, even a moment ago, has given its place away.
		res, err := tx.writer().ExecContext(ctx, `UPDATE leases SET expires_at = $3 WHERE device_row_id = $1 AND id = $2
			AND returned_at IS NULL AND expires_at > $4 AND borrowed = $5`,
			deviceRowID, leaseID, tx.t(until), tx.t(now), false)
		if err != nil {
			return tx.dbErr("renew lease", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeLeaseExpired, "the lease ended; check out a seat again")
		}
		if file != nil {
			file.DeviceRowID = deviceRowID
			return tx.RecordLicenseFile(ctx, file)
		}
		return nil
	})
}

func isNotFound(err error) bool { return errors.Is(err, syncserver.ErrNotFound) }

// ReturnLease: see syncserver.LeaseStore.
func (s *Store) ReturnLease(ctx context.Context, deviceRowID string, at time.Time, by string) (*syncserver.Lease, error) {
	var out *syncserver.Lease
	err := s.inTx(ctx, func(tx *Store) error {
		ended, err := tx.endLease(ctx, deviceRowID, at, by)
		if err != nil || !ended {
			return err
		}
		if out, err = tx.GetLease(ctx, deviceRowID); err != nil {
			return err
		}
		if out.Borrowed {
			// A borrowed seat's file lasts offline for days: the device's
			// "deactivated" entry revokes it wherever the list reaches
			// (the next sync of a copy kept back, say). Its next
			// checkout's file, signed later, is not touched by it.
			// Timed in the second before: a file of a new checkout signed
			// in the return's own second is not revoked by it.
			_, err = tx.appendRevocation(ctx, out.SubscriptionID, out.DeviceID, syncserver.StateDeactivated, at.Truncate(time.Second).Add(-time.Millisecond))
		}
		return err
	})
	return out, err
}

// endLease ends a device's live lease, if it holds one.
func (s *Store) endLease(ctx context.Context, deviceRowID string, at time.Time, by string) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `UPDATE leases SET returned_at = $2, returned_by = $3 WHERE device_row_id = $1 AND returned_at IS NULL AND expires_at > $2`,
		deviceRowID, s.t(at), by)
	if err != nil {
		return false, s.dbErr("return lease", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GetLease: see syncserver.LeaseStore.
func (s *Store) GetLease(ctx context.Context, deviceRowID string) (*syncserver.Lease, error) {
	var l syncserver.Lease
	err := scanLease(s.reader().QueryRowContext(ctx, `SELECT `+leaseCols+` FROM leases l JOIN devices d ON d.id = l.device_row_id WHERE l.device_row_id = $1`, deviceRowID), &l)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "the device holds no lease")
	}
	if err != nil {
		return nil, s.dbErr("get lease", err)
	}
	return &l, nil
}

// ListLeases: see syncserver.LeaseStore.
func (s *Store) ListLeases(ctx context.Context, subscriptionID string, now time.Time) ([]syncserver.Lease, error) {
	return queryAll(ctx, s, "list leases", `SELECT `+leaseCols+` FROM leases l JOIN devices d ON d.id = l.device_row_id
		WHERE l.subscription_id = $1 AND l.returned_at IS NULL AND l.expires_at > $2
		ORDER BY l.borrowed DESC, l.expires_at, l.id LIMIT 1000`, []any{subscriptionID, s.t(now)}, scanLease)
}

// DeviceComponents: see syncserver.LeaseStore.
func (s *Store) DeviceComponents(ctx context.Context, deviceRowID string) (string, int, error) {
	var c string
	var extra int
	err := s.reader().QueryRowContext(ctx, `SELECT components, extra_rebinds FROM devices WHERE id = $1`, deviceRowID).Scan(&c, &extra)
	if err == sql.ErrNoRows {
		return "", 0, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "device %s not found", deviceRowID)
	}
	return c, extra, s.dbErr("device components", err)
}

// RebindDevice: see syncserver.LeaseStore.
func (s *Store) RebindDevice(ctx context.Context, r syncserver.RebindChange) (*syncserver.Device, error) {
	var out *syncserver.Device
	err := s.inTx(ctx, func(tx *Store) error {
		var extra, used int
		if err := tx.writer().QueryRowContext(ctx, `SELECT extra_rebinds FROM devices WHERE id = $1`, r.DeviceRowID).Scan(&extra); err != nil {
			if err == sql.ErrNoRows {
				return syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeDeviceNotFound, "device %s not found", r.DeviceRowID)
			}
			return tx.dbErr("rebind device", err)
		}
		// The device's row is locked by the update below before the
		// count is trusted: two racing rebinds of one device run one
		// after the other.
		res, err := tx.writer().ExecContext(ctx, `UPDATE devices SET fingerprint_sha256 = $2, components = $3 WHERE id = $1 AND fingerprint_sha256 = $4`,
			r.DeviceRowID, r.FingerprintSHA256, r.Components, r.FromSHA256)
		if err != nil {
			return tx.dbErr("rebind device", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "the device was rebound meanwhile; try again")
		}
		if r.Counted {
			if err := tx.writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM device_rebinds WHERE device_row_id = $1 AND counted = $2 AND at > $3`,
				r.DeviceRowID, true, tx.t(r.Since)).Scan(&used); err != nil {
				return tx.dbErr("count rebinds", err)
			}
			if used >= r.Quota+extra {
				return &syncserver.Error{Kind: syncserver.KindConflict, Code: syncserver.CodeRebindLimitReached, Message: "this device's machine changed, and it was rebound " +
					itoa(used) + " times in the last year, all its plan allows (" + itoa(r.Quota+extra) + "): ask the vendor to grant another rebind, or deactivate the old device and activate this machine as a new one"}
			}
		}
		if _, err := tx.writer().ExecContext(ctx, `INSERT INTO device_rebinds (id, device_row_id, at, changed, counted) VALUES ($1, $2, $3, $4, $5)`,
			newID(), r.DeviceRowID, tx.t(r.At), strings.Join(r.Changed, ","), r.Counted); err != nil {
			return tx.dbErr("record rebind", err)
		}
		var err2 error
		out, err2 = tx.GetDevice(ctx, r.DeviceRowID)
		return err2
	})
	return out, err
}

// GrantRebinds: see syncserver.LeaseStore.
func (s *Store) GrantRebinds(ctx context.Context, deviceRowID string, n int) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE devices SET extra_rebinds = extra_rebinds + $2 WHERE id = $1`, deviceRowID, n)
	if err != nil {
		return s.dbErr("grant rebinds", err)
	}
	return mustAffect(res, "device", deviceRowID)
}

// ListRebinds: see syncserver.LeaseStore.
func (s *Store) ListRebinds(ctx context.Context, deviceRowID string, since time.Time, limit int) ([]syncserver.Rebind, int, error) {
	list, err := queryAll(ctx, s, "list rebinds", `SELECT id, device_row_id, at, changed, counted FROM device_rebinds WHERE device_row_id = $1 ORDER BY at DESC, id LIMIT $2`,
		[]any{deviceRowID, limit}, func(row scanner, r *syncserver.Rebind) error {
			var changed string
			err := row.Scan(&r.ID, &r.DeviceRowID, tm(&r.At), &changed, &r.Counted)
			r.Changed = strings.Split(changed, ",")
			return err
		})
	if err != nil {
		return nil, 0, err
	}
	var used int
	err = s.reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM device_rebinds WHERE device_row_id = $1 AND counted = $2 AND at > $3`,
		deviceRowID, true, s.t(since)).Scan(&used)
	return list, used, s.dbErr("count rebinds", err)
}
