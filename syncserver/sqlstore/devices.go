package sqlstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/flowlytix/licensing/internal/loadhint"
	"github.com/flowlytix/licensing/syncserver"
)

const deviceCols = "id, subscription_id, device_id, fingerprint_sha256, platform, app_version, hostname, status, activated_at, last_seen_at, deactivated_at, public_key, public_key_jkt"

func scanDevice(row scanner, d *syncserver.Device) error {
	return row.Scan(deviceDest(d)...)
}

func deviceDest(d *syncserver.Device) []any {
	return []any{&d.ID, &d.SubscriptionID, &d.DeviceID, &d.FingerprintSHA256, &d.Platform, &d.AppVersion, &d.Hostname,
		&d.Status, tm(&d.ActivatedAt), tm(&d.LastSeenAt), tmn(&d.DeactivatedAt), &d.PublicKey, &d.KeyThumbprint}
}

// DevicesByKey lists the devices bound to a key's thumbprint.
func (s *Store) DevicesByKey(ctx context.Context, thumbprint string) ([]syncserver.Device, error) {
	if thumbprint == "" {
		return nil, nil
	}
	return queryAll(ctx, s, "devices by key", `SELECT `+deviceCols+` FROM devices WHERE public_key_jkt = $1 ORDER BY id LIMIT 100`,
		[]any{thumbprint}, scanDevice)
}

// GetDevice finds a device by the server's id.
func (s *Store) GetDevice(ctx context.Context, id string) (*syncserver.Device, error) {
	var d syncserver.Device
	err := scanDevice(s.reader().QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, id), &d)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "device %s not found", id)
	}
	if err != nil {
		return nil, s.dbErr("get device", err)
	}
	return &d, nil
}

// GetDeviceByDeviceID finds a subscription's device by the app's id.
func (s *Store) GetDeviceByDeviceID(ctx context.Context, subscriptionID, deviceID string) (*syncserver.Device, error) {
	var d syncserver.Device
	err := scanDevice(s.reader().QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE subscription_id = $1 AND device_id = $2`, subscriptionID, deviceID), &d)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "device %s not found", deviceID)
	}
	if err != nil {
		return nil, s.dbErr("get device", err)
	}
	return &d, nil
}

// ListDevices lists devices, the most recently seen first, each with its
// subscription's stored status (the service shows it at now) and customer.
func (s *Store) ListDevices(ctx context.Context, f syncserver.DeviceFilter) ([]syncserver.Device, int, error) {
	from, w := s.deviceQuery(f)
	return page(ctx, s, "list devices", listedDeviceCols, from, w, "d.last_seen_at DESC, d.id", f.Page, scanListedDevice(f.Now))
}

// EachDevice walks the devices f selects, in id order.
func (s *Store) EachDevice(ctx context.Context, f syncserver.DeviceFilter, fn func(*syncserver.Device) error) error {
	from, w := s.deviceQuery(f)
	return each(ctx, s, "export devices", listedDeviceCols, from, w, "d.id", scanListedDevice(f.Now), fn)
}

// perDevice makes a condition on a device's subscription one that SQLite
// checks as it meets each device, in list order: on its own, SQLite first
// reads every subscription that meets it into a Bloom filter (a pass over
// all of them, for a page of 25 devices). The "OR d.id IS NULL" is never
// true; it only ties the condition to the device.
func perDevice(cond string) string { return "(" + cond + " OR d.id IS NULL)" }

// deviceQuery is the FROM and WHERE of a device list. Without a customer
// to start from, the devices are read first, in the order of their index
// on last sync, and each finds its subscription by key: SQLite's CROSS JOIN
// keeps that order (its planner would otherwise start from the
// subscriptions that match a status and sort a million devices);
// PostgreSQL plans it as the inner join it is.
func (s *Store) deviceQuery(f syncserver.DeviceFilter) (string, where) {
	w := where{}
	from := "devices d CROSS JOIN subscriptions s"
	w.add("s.id = d.subscription_id")
	if f.CustomerID != "" {
		from, w = "devices d JOIN subscriptions s ON s.id = d.subscription_id", where{}
	}
	if f.SubscriptionID != "" {
		w.add("d.subscription_id = $#", f.SubscriptionID)
	}
	if f.CustomerID != "" {
		w.add("s.customer_id = $#", f.CustomerID)
	}
	switch f.Status {
	case "":
	case syncserver.DeviceActive:
		// In use: active, of a subscription that unlocks the app. Most
		// devices are: walking them in list order beats the status index
		// and a sort of them all (unindexed).
		w.add(s.unindexed("d.status") + " = 'active'")
		if !f.Now.IsZero() {
			w.add(perDevice("s.status = 'active' AND s.hard_expires_at > $#"), s.t(f.Now))
		}
	case syncserver.DeviceInactive:
		w.add(s.unindexed("d.status")+" = $#", f.Status)
	default:
		w.add("d.status = $#", f.Status)
	}
	if !f.ActivatedSince.IsZero() {
		w.add("d.activated_at >= $#", s.t(f.ActivatedSince))
	}
	if f.HoldingSeats {
		w.add(s.unindexed("d.status") + " IN ('active', 'inactive')")
		if !f.Now.IsZero() {
			w.add(perDevice("s.status = 'active' AND s.hard_expires_at > $#"), s.t(f.Now))
		}
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		// The server's id or a fingerprint hash, whole; the start of the
		// app's device id or of the host name, in any case: each through
		// an index (0005), so a search over a million devices stays fast.
		p := s.prefixPattern(strings.ToLower(q))
		w.add("(d.id = $# OR d.fingerprint_sha256 = $# OR lower(d.device_id) "+s.d.PrefixOp+" $# OR lower(d.hostname) "+s.d.PrefixOp+" $#)",
			q, strings.ToLower(q), p, p)
	}
	return from, w
}

const listedDeviceCols = "d.id, d.subscription_id, d.device_id, d.fingerprint_sha256, d.platform, d.app_version, d.hostname, d.status, d.activated_at, d.last_seen_at, d.deactivated_at, d.public_key, d.public_key_jkt, s.customer_id, s.status, s.expires_at, s.grace_period_days"

// scanListedDevice scans a device and its subscription's status as shown at
// now (the stored status when now is zero).
func scanListedDevice(now time.Time) func(row scanner, d *syncserver.Device) error {
	return func(row scanner, d *syncserver.Device) error {
		var sub syncserver.Subscription
		err := row.Scan(&d.ID, &d.SubscriptionID, &d.DeviceID, &d.FingerprintSHA256, &d.Platform, &d.AppVersion, &d.Hostname,
			&d.Status, tm(&d.ActivatedAt), tm(&d.LastSeenAt), tmn(&d.DeactivatedAt), &d.PublicKey, &d.KeyThumbprint,
			&d.CustomerID, &sub.Status, tm(&sub.ExpiresAt), &sub.GracePeriodDays)
		d.SubscriptionStatus = sub.Status
		if !now.IsZero() {
			d.SubscriptionStatus = sub.StatusAt(now)
		}
		return err
	}
}

// errRaced marks an activation that lost a race to insert the same new
// device; it is retried and then finds the winner's row.
var errRaced = errors.New("activation raced")

// Activate takes a seat for a device. The seat count is one conditional
// UPDATE of the subscription row (active_devices < max_devices), which both
// engines serialise, so racing activations can never overfill it.
// Re-activating a device id that holds a seat, with the same fingerprint,
// takes no new seat. created reports a new seat.
func (s *Store) Activate(ctx context.Context, a syncserver.Activation) (*syncserver.Device, bool, error) {
	for attempt := 0; ; attempt++ {
		d, created, err := s.activate(ctx, a)
		if errors.Is(err, errRaced) && attempt < 3 {
			continue
		}
		if errors.Is(err, errRaced) {
			return nil, false, syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "activation of %s keeps racing; try again", a.DeviceID)
		}
		return d, created, err
	}
}

func (s *Store) activate(ctx context.Context, a syncserver.Activation) (*syncserver.Device, bool, error) {
	if err := given("activate", a.At); err != nil {
		return nil, false, err
	}
	var dev *syncserver.Device
	var created bool
	// Outside a transaction an activation is group-committed with the
	// other writes waiting (group.go), in a savepoint of its own.
	var err error
	if s.tx != nil {
		r := newRollup()
		if dev, created, err = s.activateIn(ctx, a, r); err == nil {
			err = r.flush(ctx, s)
		}
	} else {
		err = s.group.do(ctx, s, &job{key: a.SubscriptionID + "/" + a.DeviceID, isolate: true, inFlight: loadhint.Activations(ctx),
			run: func(ctx context.Context, tx *Store, r *rollup) error {
				var err error
				dev, created, err = tx.activateIn(ctx, a, r)
				return err
			}})
	}
	if err != nil {
		return nil, false, err
	}
	return dev, created, nil
}

// activateIn activates within the transaction s. Few statements: an
// activation holds SQLite's only write connection while it runs. The
// subscription's status is checked inside the guarded updates, and re-read
// only to explain a refusal.
func (s *Store) activateIn(ctx context.Context, a syncserver.Activation, r *rollup) (*syncserver.Device, bool, error) {
	existing, err := s.GetDeviceByDeviceID(ctx, a.SubscriptionID, a.DeviceID)
	switch {
	case errors.Is(err, syncserver.ErrNotFound):
		existing = nil
	case err != nil:
		return nil, false, err
	}
	if existing != nil {
		if existing.Status == syncserver.DeviceBlocked {
			return nil, false, syncserver.Errorf(syncserver.KindForbidden, syncserver.CodeDeviceBlocked, "device %s is blocked", a.DeviceID)
		}
		if existing.HoldsSeat() {
			dev, err := s.refreshDevice(ctx, a, existing)
			return dev, false, err
		}
	}
	if err := s.takeSeat(ctx, a.SubscriptionID, a.Floating); err != nil {
		return nil, false, err
	}
	dev, err := s.seatDevice(ctx, a, existing)
	if err != nil {
		return nil, false, err
	}
	if err := s.recordActivationFile(ctx, a, dev); err != nil {
		return nil, false, err
	}
	if a.Event != nil {
		e := *a.Event
		r.events = append(r.events, &e) // written last (rollup.flush)
	}
	day := syncserver.Day(a.At)
	r.stats[[2]string{day, "activations"}]++
	r.stats[[2]string{day, "devices_seen"}]++
	return dev, true, nil
}

// refreshDevice activates a device that holds a seat again: it is
// refreshed and takes no new seat, unless a deactivation, a block or a
// status change got in first.
func (s *Store) refreshDevice(ctx context.Context, a syncserver.Activation, existing *syncserver.Device) (*syncserver.Device, error) {
	if existing.FingerprintSHA256 != a.FingerprintSHA256 {
		return nil, syncserver.Errorf(syncserver.KindConflict, syncserver.CodeFingerprintMismatch, "device %s is active with another fingerprint", a.DeviceID)
	}
	// Activating again with the license key is how an app that lost its
	// cache gets back in: a key it sends now is the device's key. An
	// activation without one (an older app, an older request file) never
	// takes the device's key away: its calls still need proofs.
	res, err := s.writer().ExecContext(ctx, `UPDATE devices SET status = $2, platform = $3, app_version = $4, hostname = $5, last_seen_at = $6,
		public_key = CASE WHEN $10 = '' THEN public_key ELSE $9 END, public_key_jkt = CASE WHEN $10 = '' THEN public_key_jkt ELSE $10 END,
		components = CASE WHEN $11 = '' THEN components ELSE $11 END
		WHERE id = $1 AND status IN ('active', 'inactive') AND fingerprint_sha256 = $7
		AND (SELECT status FROM subscriptions WHERE id = $8) = 'active'`,
		existing.ID, syncserver.DeviceActive, a.Platform, a.AppVersion, a.Hostname, s.t(a.At), a.FingerprintSHA256, a.SubscriptionID,
		a.PublicKey, a.KeyThumbprint, a.Components)
	if err != nil {
		return nil, s.dbErr("refresh device", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		if err := s.subscriptionRefusal(ctx, a.SubscriptionID); err != nil {
			return nil, err
		}
		return nil, errRaced
	}
	d := *existing
	d.Status, d.Platform, d.AppVersion, d.Hostname, d.LastSeenAt = syncserver.DeviceActive, a.Platform, a.AppVersion, a.Hostname, a.At.Truncate(time.Millisecond)
	if a.KeyThumbprint != "" {
		d.PublicKey, d.KeyThumbprint = a.PublicKey, a.KeyThumbprint
	}
	return &d, s.recordActivationFile(ctx, a, &d)
}

// seatDevice writes the device that just took a seat: a new row, or a
// deactivated device coming back, perhaps on a new machine.
func (s *Store) seatDevice(ctx context.Context, a syncserver.Activation, existing *syncserver.Device) (*syncserver.Device, error) {
	d := syncserver.Device{SubscriptionID: a.SubscriptionID, DeviceID: a.DeviceID, FingerprintSHA256: a.FingerprintSHA256,
		Platform: a.Platform, AppVersion: a.AppVersion, Hostname: a.Hostname, Status: syncserver.DeviceActive,
		ActivatedAt: a.At.Truncate(time.Millisecond), LastSeenAt: a.At.Truncate(time.Millisecond),
		PublicKey: a.PublicKey, KeyThumbprint: a.KeyThumbprint}
	if existing != nil {
		res, err := s.writer().ExecContext(ctx, `UPDATE devices SET status = $2, fingerprint_sha256 = $3, platform = $4, app_version = $5, hostname = $6,
			activated_at = $7, last_seen_at = $7, last_seen_day = $8, deactivated_at = NULL,
			public_key = CASE WHEN $10 = '' THEN public_key ELSE $9 END, public_key_jkt = CASE WHEN $10 = '' THEN public_key_jkt ELSE $10 END,
			components = $11
			WHERE id = $1 AND status = 'deactivated'`,
			existing.ID, syncserver.DeviceActive, a.FingerprintSHA256, a.Platform, a.AppVersion, a.Hostname, s.t(a.At), syncserver.Day(a.At),
			a.PublicKey, a.KeyThumbprint, a.Components)
		if err != nil {
			return nil, s.dbErr("reactivate device", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, errRaced // another activation or a block got in first; the seat rolls back
		}
		// The device's entry said "deactivated" (or "active" after a
		// block was lifted): it is active again, for every copy of the
		// list.
		if _, err := s.appendRevocation(ctx, a.SubscriptionID, a.DeviceID, syncserver.StateActive, a.At); err != nil {
			return nil, err
		}
		d.ID = existing.ID
		if a.KeyThumbprint == "" {
			d.PublicKey, d.KeyThumbprint = existing.PublicKey, existing.KeyThumbprint
		}
		return &d, nil
	}
	d.ID = newID()
	_, err := s.writer().ExecContext(ctx, `INSERT INTO devices (`+deviceCols+`, last_seen_day, components) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, NULL, $11, $12, $10, $13)`,
		d.ID, a.SubscriptionID, a.DeviceID, a.FingerprintSHA256, a.Platform, a.AppVersion, a.Hostname, syncserver.DeviceActive, s.t(a.At), syncserver.Day(a.At),
		a.PublicKey, a.KeyThumbprint, a.Components)
	if s.d.IsUniqueViolation(err) {
		return nil, errRaced
	}
	if err != nil {
		return nil, s.dbErr("insert device", err)
	}
	return &d, nil
}

func (s *Store) recordActivationFile(ctx context.Context, a syncserver.Activation, dev *syncserver.Device) error {
	if a.File == nil {
		return nil
	}
	a.File.DeviceRowID = dev.ID
	return s.RecordLicenseFile(ctx, a.File)
}

func inactive(sub *syncserver.Subscription) error {
	return syncserver.Errorf(syncserver.KindForbidden, syncserver.CodeLicenseInactive, "the subscription is %s", sub.Status)
}

// takeSeat counts one more seat, or says why it cannot.
func (s *Store) takeSeat(ctx context.Context, subscriptionID string, floating bool) error {
	// A floating subscription's seats are its live leases (leases.go):
	// its devices are not counted in active_devices.
	res, err := s.writer().ExecContext(ctx, `UPDATE subscriptions SET active_devices = active_devices + CASE WHEN floating THEN 0 ELSE 1 END
		WHERE id = $1 AND status = $2 AND floating = $3 AND (floating OR active_devices < max_devices)`,
		subscriptionID, syncserver.SubscriptionActive, floating)
	if err != nil {
		return s.dbErr("take seat", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if err := s.subscriptionRefusal(ctx, subscriptionID); err != nil {
		return err
	}
	now, err := s.GetSubscription(ctx, subscriptionID)
	if err != nil {
		return err
	}
	switch {
	case now.Floating && !floating:
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeFloatingLicense, "this license is floating: check out a seat (POST /api/v1/licensing/checkout) instead of activating")
	case !now.Floating && floating:
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeNotFloating, "this license is not floating: activate it (POST /api/v1/licensing/activate) to take a seat of its own")
	}
	return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeDeviceLimit, "all %d seats are taken; deactivate a device first", now.MaxDevices)
}

// subscriptionRefusal explains why a subscription takes no activation:
// it does not exist or is not active. nil means it is active.
func (s *Store) subscriptionRefusal(ctx context.Context, subscriptionID string) error {
	sub, err := s.GetSubscription(ctx, subscriptionID)
	if err != nil {
		return err
	}
	if sub.Status != syncserver.SubscriptionActive {
		return inactive(sub)
	}
	return nil
}

// releaseSeat counts one seat fewer.
func (s *Store) releaseSeat(ctx context.Context, subscriptionID string, n int) error {
	_, err := s.writer().ExecContext(ctx, `UPDATE subscriptions SET active_devices = active_devices - $2 WHERE id = $1 AND NOT floating`, subscriptionID, n)
	return s.dbErr("release seat", err)
}

// bump adds n to a daily rollup figure.
func (s *Store) bump(ctx context.Context, day, metric string, n int64) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO daily_stats (day, metric, value) VALUES ($1, $2, $3)
		ON CONFLICT (day, metric) DO UPDATE SET value = daily_stats.value + excluded.value`, day, metric, n)
	return s.dbErr("update daily stats", err)
}

// DeactivateDevice frees the device's seat. Deactivating a device that
// holds none changes nothing.
func (s *Store) DeactivateDevice(ctx context.Context, id string, at time.Time) (*syncserver.Device, error) {
	return s.endDevice(ctx, id, syncserver.DeviceDeactivated, at)
}

// BlockDevice frees the seat, refuses the device from now on and appends a
// "blocked" revocation entry, all in one transaction.
func (s *Store) BlockDevice(ctx context.Context, id string, at time.Time) (*syncserver.Device, error) {
	return s.endDevice(ctx, id, syncserver.DeviceBlocked, at)
}

// UnblockDevice lifts a block; see syncserver.Store.
func (s *Store) UnblockDevice(ctx context.Context, id string, at time.Time) (*syncserver.Device, error) {
	var out *syncserver.Device
	err := s.inTx(ctx, func(tx *Store) error {
		d, err := tx.GetDevice(ctx, id)
		if err != nil {
			return err
		}
		res, err := tx.writer().ExecContext(ctx, `UPDATE devices SET status = 'deactivated' WHERE id = $1 AND status = 'blocked'`, id)
		if err != nil {
			return tx.dbErr("unblock device", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "the device is not blocked")
		}
		// Unblocked, the device holds no seat: its apps learn it is
		// deactivated (they stop, and may activate again), not that it is
		// active.
		if _, err := tx.appendRevocation(ctx, d.SubscriptionID, d.DeviceID, syncserver.StateDeactivated, at); err != nil {
			return err
		}
		out, err = tx.GetDevice(ctx, id)
		return err
	})
	return out, err
}

func (s *Store) endDevice(ctx context.Context, id, status string, at time.Time) (*syncserver.Device, error) {
	var out *syncserver.Device
	err := s.inTx(ctx, func(tx *Store) error {
		d, err := tx.GetDevice(ctx, id)
		if err != nil {
			return err
		}
		// Each change is guarded by the status it starts from: a racing
		// deactivation, block or activation changes no row here (the row
		// lock makes the loser see the winner's status), so a seat is
		// released exactly once.
		var changed int64
		for attempt := 0; attempt < 5 && changed == 0; attempt++ {
			res, err := tx.writer().ExecContext(ctx, `UPDATE devices SET status = $2, deactivated_at = $3 WHERE id = $1 AND status IN ('active', 'inactive')`, id, status, tx.t(at))
			if err != nil {
				return tx.dbErr("end device", err)
			}
			if changed, _ = res.RowsAffected(); changed == 1 {
				if err := tx.releaseSeat(ctx, d.SubscriptionID, 1); err != nil {
					return err
				}
				// A floating seat's lease ends with the device's seat.
				if _, err := tx.endLease(ctx, id, at, status); err != nil {
					return err
				}
				break
			}
			if status != syncserver.DeviceBlocked {
				break // it holds no seat: deactivated already
			}
			res, err = tx.writer().ExecContext(ctx, `UPDATE devices SET status = 'blocked' WHERE id = $1 AND status = 'deactivated'`, id)
			if err != nil {
				return tx.dbErr("block device", err)
			}
			if changed, _ = res.RowsAffected(); changed == 1 {
				break
			}
			// Neither matched: blocked already, or an activation moved it
			// between our two statements; look again.
			if now, err := tx.GetDevice(ctx, id); err != nil || now.Status == syncserver.DeviceBlocked {
				break
			}
		}
		if changed == 1 {
			// The device learns it on its next sync: blocked, or
			// deactivated (it stops, and may activate again).
			state := syncserver.StateDeactivated
			if status == syncserver.DeviceBlocked {
				state = syncserver.StateBlocked
			}
			if _, err := tx.appendRevocation(ctx, d.SubscriptionID, d.DeviceID, state, at); err != nil {
				return err
			}
		}
		out, err = tx.GetDevice(ctx, id)
		return err
	})
	return out, err
}

// prefixed qualifies each column of a list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		if strings.HasPrefix(c, "COALESCE(") {
			parts[i] = "COALESCE(" + alias + strings.TrimPrefix(c, "COALESCE(")
			continue
		}
		if !strings.Contains(c, ".") {
			parts[i] = alias + c
		}
	}
	return strings.Join(parts, ", ")
}

// SyncState reads the subscription, the device and its newest file in one
// query: a sync is the hottest path, and three round trips cost more than
// the join.
func (s *Store) SyncState(ctx context.Context, subscriptionID, deviceID string) (*syncserver.Subscription, *syncserver.Device, *syncserver.LicenseFileRecord, error) {
	var sub syncserver.Subscription
	var dev syncserver.Device
	var jti sql.NullString
	var rev sql.NullInt64
	var issued, expires time.Time
	dest := append(append(subscriptionDest(&sub), deviceDest(&dev)...),
		&jti, &rev, tm(&issued), tm(&expires))
	err := s.reader().QueryRowContext(ctx, `SELECT `+subscriptionCols+`, `+prefixed("d.", deviceCols)+`,
		lf.jti, lf.revision, lf.issued_at, lf.expires_at
		FROM subscriptions s
		JOIN devices d ON d.subscription_id = s.id AND d.device_id = $2
		LEFT JOIN license_files lf ON lf.jti = (SELECT f.jti FROM license_files f
			WHERE f.subscription_id = s.id AND f.device_row_id = d.id ORDER BY f.issued_at DESC, f.revision DESC, f.jti DESC LIMIT 1)
		WHERE s.id = $1`, subscriptionID, deviceID).Scan(dest...)
	if err == sql.ErrNoRows {
		if _, err := s.GetSubscription(ctx, subscriptionID); err != nil {
			if errors.Is(err, syncserver.ErrNotFound) {
				return nil, nil, nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeSubscriptionNotFound, "subscription %s not found", subscriptionID)
			}
			return nil, nil, nil, err
		}
		return nil, nil, nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeDeviceNotFound, "device %s not found", deviceID)
	}
	if err != nil {
		return nil, nil, nil, s.dbErr("sync state", err)
	}
	var latest *syncserver.LicenseFileRecord
	if jti.Valid {
		latest = &syncserver.LicenseFileRecord{JTI: jti.String, SubscriptionID: sub.ID, DeviceRowID: dev.ID, Revision: rev.Int64,
			IssuedAt: issued, ExpiresAt: expires}
	}
	return &sub, &dev, latest, nil
}

// ActivationState reads in one query what an activation needs: the
// subscription the key names (compared in constant time), this device if it
// was activated before (nil otherwise) and its newest file (nil if none).
func (s *Store) ActivationState(ctx context.Context, key, deviceID string) (*syncserver.Subscription, *syncserver.Device, *syncserver.LicenseFileRecord, error) {
	var sub syncserver.Subscription
	var devID, devDevice, fp, platform, appVersion, hostname, status, pubKey, jkt, jti, token sql.NullString
	var activated, seen, issued, expires time.Time
	var deactivated *time.Time
	var rev sql.NullInt64
	dest := append(subscriptionDest(&sub),
		&devID, &devDevice, &fp, &platform, &appVersion, &hostname, &status, tm(&activated), tm(&seen), tmn(&deactivated), &pubKey, &jkt,
		&jti, &rev, tm(&issued), tm(&expires), &token)
	err := s.reader().QueryRowContext(ctx, `SELECT `+subscriptionCols+`,
		d.id, d.device_id, d.fingerprint_sha256, d.platform, d.app_version, d.hostname, d.status, d.activated_at, d.last_seen_at, d.deactivated_at,
		d.public_key, d.public_key_jkt,
		lf.jti, lf.revision, lf.issued_at, lf.expires_at, lf.token
		FROM subscriptions s
		LEFT JOIN devices d ON d.subscription_id = s.id AND d.device_id = $2
		LEFT JOIN license_files lf ON lf.jti = (SELECT f.jti FROM license_files f
			WHERE f.subscription_id = s.id AND f.device_row_id = d.id ORDER BY f.issued_at DESC, f.revision DESC, f.jti DESC LIMIT 1)
		WHERE s.license_key_hash = $1`, syncserver.LicenseKeyHash(key), deviceID).Scan(dest...)
	if err == sql.ErrNoRows || err == nil && subtle.ConstantTimeCompare([]byte(sub.LicenseKey), []byte(key)) != 1 {
		return nil, nil, nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeLicenseNotFound, "no subscription has this license key")
	}
	if err != nil {
		return nil, nil, nil, s.dbErr("activation state", err)
	}
	var dev *syncserver.Device
	if devID.Valid {
		dev = &syncserver.Device{ID: devID.String, SubscriptionID: sub.ID, DeviceID: devDevice.String, FingerprintSHA256: fp.String,
			Platform: platform.String, AppVersion: appVersion.String, Hostname: hostname.String, Status: status.String,
			ActivatedAt: activated, LastSeenAt: seen, DeactivatedAt: deactivated, PublicKey: pubKey.String, KeyThumbprint: jkt.String}
	}
	var latest *syncserver.LicenseFileRecord
	if jti.Valid && dev != nil {
		latest = &syncserver.LicenseFileRecord{JTI: jti.String, SubscriptionID: sub.ID, DeviceRowID: dev.ID, Revision: rev.Int64,
			IssuedAt: issued, ExpiresAt: expires, Token: token.String}
	}
	return &sub, dev, latest, nil
}
