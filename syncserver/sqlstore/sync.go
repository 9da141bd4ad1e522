package sqlstore

import (
	"context"
	"database/sql"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// RowsPerInsert bounds one multi-row INSERT: 100 usage rows are 900
// parameters, far below both engines' limits, and large enough that a sync
// of 1,000 events is ten statements.
const RowsPerInsert = 100

// RecordSync stores one sync: the device's last-seen time, its heartbeats
// and its usage events in batched multi-row inserts, and the daily rollups.
// A usage event whose (device, event_id) is stored already is skipped by
// the unique key (ON CONFLICT DO NOTHING), counted as a duplicate, and adds
// nothing to the rollups: only rows the insert returns count.
//
// Outside a transaction, concurrent calls are group-committed (group.go).
func (s *Store) RecordSync(ctx context.Context, b syncserver.SyncBatch) (syncserver.SyncResult, error) {
	if err := given("record sync", b.At); err != nil {
		return syncserver.SyncResult{}, err
	}
	if s.tx != nil {
		r := newRollup()
		res, err := s.recordSync(ctx, b, r)
		if err != nil {
			return res, err
		}
		return res, r.flush(ctx, s)
	}
	var res syncserver.SyncResult
	err := s.group.do(ctx, s, &job{key: b.DeviceRowID, run: func(ctx context.Context, tx *Store, r *rollup) error {
		var err error
		res, err = tx.recordSync(ctx, b, r)
		return err
	}})
	if err != nil {
		return syncserver.SyncResult{}, err
	}
	return res, nil
}

// recordSync writes one sync inside a transaction, adding its rollup
// figures to r instead of writing them, so that a group writes each rollup
// row once.
func (s *Store) recordSync(ctx context.Context, b syncserver.SyncBatch, r *rollup) (syncserver.SyncResult, error) {
	var res syncserver.SyncResult
	day := syncserver.Day(b.At)
	if err := s.markSeen(ctx, b, day, r); err != nil {
		return res, err
	}
	if err := s.insertHeartbeats(ctx, b.DeviceRowID, b.Heartbeats); err != nil {
		return res, err
	}
	accepted, err := s.insertUsage(ctx, b, r)
	if err != nil {
		return res, err
	}
	if b.File != nil {
		f := *b.File
		f.DeviceRowID = b.DeviceRowID
		if err := s.RecordLicenseFile(ctx, &f); err != nil {
			return res, err
		}
	}
	res.Accepted = accepted
	res.Duplicates = len(b.Usage) - accepted
	return res, nil
}

// markSeen writes the device's last-seen time (and its app version, and
// brings an inactive device back), and counts it among the day's devices
// seen when this is its first sync of the day. A device seen earlier the
// same day, the usual case, takes one statement.
func (s *Store) markSeen(ctx context.Context, b syncserver.SyncBatch, day string, r *rollup) error {
	const set = `UPDATE devices SET last_seen_at = $2,
		app_version = CASE WHEN $3 = '' THEN app_version ELSE $3 END,
		status = CASE WHEN status = 'inactive' THEN 'active' ELSE status END
		WHERE id = $1`
	same, err := s.writer().ExecContext(ctx, set+` AND last_seen_day = $4`, b.DeviceRowID, s.t(b.At), b.AppVersion, day)
	if err != nil {
		return s.dbErr("record sync", err)
	}
	if n, _ := same.RowsAffected(); n == 1 {
		return nil
	}
	// A new day, or no such device.
	first, err := s.writer().ExecContext(ctx, `UPDATE devices SET last_seen_day = $2 WHERE id = $1 AND last_seen_day <> $2`, b.DeviceRowID, day)
	if err != nil {
		return s.dbErr("record sync", err)
	}
	if n, _ := first.RowsAffected(); n == 1 {
		r.stats[[2]string{day, "devices_seen"}]++
	}
	seen, err := s.writer().ExecContext(ctx, set, b.DeviceRowID, s.t(b.At), b.AppVersion)
	if err != nil {
		return s.dbErr("record sync", err)
	}
	return mustAffect(seen, "device", b.DeviceRowID)
}

// rollup collects daily rollup figures within one transaction.
type rollup struct {
	stats map[[2]string]int64 // (day, metric)
	usage map[usageKey]*usageSum
}

func newRollup() *rollup {
	return &rollup{stats: map[[2]string]int64{}, usage: map[usageKey]*usageSum{}}
}

func (r *rollup) merge(o *rollup) {
	for k, v := range o.stats {
		r.stats[k] += v
	}
	for k, v := range o.usage {
		if r.usage[k] == nil {
			r.usage[k] = &usageSum{}
		}
		r.usage[k].events += v.events
		r.usage[k].count += v.count
		r.usage[k].duration += v.duration
	}
}

// flush writes the figures, in key order, so that concurrent transactions
// lock the rollup rows in the same order and cannot deadlock.
func (r *rollup) flush(ctx context.Context, s *Store) error {
	stats := make([][2]string, 0, len(r.stats))
	for k := range r.stats {
		stats = append(stats, k)
	}
	sort.Slice(stats, func(i, j int) bool {
		return stats[i][0] < stats[j][0] || stats[i][0] == stats[j][0] && stats[i][1] < stats[j][1]
	})
	for _, k := range stats {
		if err := s.bump(ctx, k[0], k[1], r.stats[k]); err != nil {
			return err
		}
	}
	keys := make([]usageKey, 0, len(r.usage))
	for k := range r.usage {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].day < keys[j].day || keys[i].day == keys[j].day && keys[i].feature < keys[j].feature
	})
	for _, k := range keys {
		v := r.usage[k]
		if _, err := s.writer().ExecContext(ctx, `INSERT INTO usage_daily (day, feature, events, total_count, total_duration) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (day, feature) DO UPDATE SET events = usage_daily.events + excluded.events,
			total_count = usage_daily.total_count + excluded.total_count, total_duration = usage_daily.total_duration + excluded.total_duration`,
			k.day, k.feature, v.events, v.count, v.duration); err != nil {
			return s.dbErr("update usage rollup", err)
		}
	}
	return nil
}

// values is Values with the store's parameter prefix.
func (s *Store) values(rows, width, from int) string {
	return Values(s.d.ParamPrefix, rows, width, from)
}

func (s *Store) insertHeartbeats(ctx context.Context, deviceRowID string, hbs []syncserver.Heartbeat) error {
	for start := 0; start < len(hbs); start += RowsPerInsert {
		chunk := hbs[start:min(start+RowsPerInsert, len(hbs))]
		args := make([]any, 0, 3*len(chunk))
		for _, h := range chunk {
			args = append(args, deviceRowID, s.t(h.At), h.AppVersion)
		}
		if _, err := s.writer().ExecContext(ctx, `INSERT INTO heartbeats (device_row_id, at, app_version) VALUES `+s.values(len(chunk), 3, 1)+
			` ON CONFLICT (device_row_id, at) DO NOTHING`, args...); err != nil {
			return s.dbErr("insert heartbeats", err)
		}
	}
	return nil
}

type usageKey struct{ day, feature string }

type usageSum struct {
	events, count int64
	duration      float64
}

// UsageChunk is one multi-row insert's worth of a sync's usage events
// (at most RowsPerInsert), for a dialect's InsertUsage.
type UsageChunk struct {
	DeviceRowID    string
	SubscriptionID string
	Received       time.Time // the sync's time, stored as received_at
	Events         []syncserver.UsageEvent
	// Time converts a time for the engine (Dialect.Time).
	Time func(time.Time) any
	// Stored is called for each event the insert stored, to feed the daily
	// rollups; events stored before (a replay) are skipped.
	Stored func(day, feature string, count int64, durationSeconds float64)
}

// Values returns "($1, $2, ...), (...)" for rows of width parameters each,
// numbered from from, with the dialect's parameter prefix.
func Values(prefix string, rows, width, from int) string {
	var b strings.Builder
	n := from
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(prefix)
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// UsageMetadata is an event's metadata as stored: NULL when absent.
func UsageMetadata(e syncserver.UsageEvent) any {
	if len(e.Metadata) > 0 && string(e.Metadata) != "null" {
		return string(e.Metadata)
	}
	return nil
}

func (s *Store) insertUsage(ctx context.Context, b syncserver.SyncBatch, r *rollup) (int, error) {
	insert := s.d.InsertUsage
	if insert == nil {
		insert = insertUsageReturning
	}
	accepted := 0
	for start := 0; start < len(b.Usage); start += RowsPerInsert {
		n, err := insert(ctx, s.writer(), UsageChunk{DeviceRowID: b.DeviceRowID, SubscriptionID: b.SubscriptionID, Received: b.At,
			Events: b.Usage[start:min(start+RowsPerInsert, len(b.Usage))], Time: s.t, Stored: r.addUsage})
		if err != nil {
			return 0, s.dbErr("insert usage", err)
		}
		accepted += n
	}
	return accepted, nil
}

// insertUsageReturning is the portable insert: the database returns the
// rows it stored.
func insertUsageReturning(ctx context.Context, q Querier, c UsageChunk) (int, error) {
	args := make([]any, 0, 9*len(c.Events))
	received := c.Time(c.Received)
	for _, e := range c.Events {
		args = append(args, c.DeviceRowID, e.EventID, c.SubscriptionID, e.Feature, e.Count, e.DurationSeconds, c.Time(e.At), UsageMetadata(e), received)
	}
	rows, err := q.QueryContext(ctx, `INSERT INTO usage_events (device_row_id, event_id, subscription_id, feature, count, duration_seconds, at, metadata, received_at)
		VALUES `+Values("$", len(c.Events), 9, 1)+` ON CONFLICT (device_row_id, event_id) DO NOTHING RETURNING feature, count, duration_seconds, at`, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var feature string
		var count int64
		var duration float64
		var at time.Time
		if err := rows.Scan(&feature, &count, &duration, tm(&at)); err != nil {
			return 0, err
		}
		c.Stored(syncserver.Day(at), feature, count, duration)
		n++
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	return n, rows.Err()
}

func (r *rollup) addUsage(day, feature string, count int64, duration float64) {
	k := usageKey{day, feature}
	sum := r.usage[k]
	if sum == nil {
		sum = &usageSum{}
		r.usage[k] = sum
	}
	sum.events++
	sum.count += count
	sum.duration += duration
}

const licenseFileCols = "jti, subscription_id, device_row_id, revision, issued_at, expires_at, token"

func scanLicenseFile(row scanner, f *syncserver.LicenseFileRecord) error {
	return row.Scan(&f.JTI, &f.SubscriptionID, &f.DeviceRowID, &f.Revision, tm(&f.IssuedAt), tm(&f.ExpiresAt), &f.Token)
}

// RecordLicenseFile stores an issued file.
func (s *Store) RecordLicenseFile(ctx context.Context, f *syncserver.LicenseFileRecord) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO license_files (`+licenseFileCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		f.JTI, f.SubscriptionID, f.DeviceRowID, f.Revision, s.t(f.IssuedAt), s.t(f.ExpiresAt), f.Token)
	return s.dbErr("record license file", err)
}

// LatestLicenseFile finds the newest file of a device (or of no device).
func (s *Store) LatestLicenseFile(ctx context.Context, subscriptionID, deviceRowID string) (*syncserver.LicenseFileRecord, error) {
	var f syncserver.LicenseFileRecord
	err := scanLicenseFile(s.reader().QueryRowContext(ctx, `SELECT `+licenseFileCols+` FROM license_files
		WHERE subscription_id = $1 AND device_row_id = $2 ORDER BY issued_at DESC, revision DESC LIMIT 1`, subscriptionID, deviceRowID), &f)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "no license file issued yet")
	}
	if err != nil {
		return nil, s.dbErr("latest license file", err)
	}
	return &f, nil
}

// ListLicenseFiles lists a subscription's issued files, newest first.
func (s *Store) ListLicenseFiles(ctx context.Context, subscriptionID string, p syncserver.Page) ([]syncserver.LicenseFileRecord, int, error) {
	w := where{}
	w.add("subscription_id = $#", subscriptionID)
	return page(ctx, s, "list license files", licenseFileCols, "license_files", w, "issued_at DESC, jti", p, scanLicenseFile)
}

// RecordValidation appends to the validation log and counts the day's
// validations.
func (s *Store) RecordValidation(ctx context.Context, v syncserver.Validation) error {
	if err := given("record validation", v.At); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *Store) error {
		if _, err := tx.writer().ExecContext(ctx, `INSERT INTO validation_log (at, subscription_id, device_id, valid, reason) VALUES ($1, $2, $3, $4, $5)`,
			tx.t(v.At), v.SubscriptionID, v.DeviceID, v.Valid, v.Reason); err != nil {
			return tx.dbErr("record validation", err)
		}
		metric := "validations"
		if !v.Valid {
			metric = "validations_failed"
		}
		return tx.bump(ctx, syncserver.Day(v.At), metric, 1)
	})
}

// appendRevocation adds an entry with the next seq. The counter row is
// locked until the transaction commits, so entries commit in seq order: a
// reader that has seen seq N can never later find a new entry below N.
func (s *Store) appendRevocation(ctx context.Context, subscriptionID, deviceID, state string, at time.Time) (int64, error) {
	var seq int64
	if err := s.writer().QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revocation_seq' RETURNING value`).Scan(&seq); err != nil {
		return 0, s.dbErr("next revocation seq", err)
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO revocations (seq, subscription_id, device_id, state, at) VALUES ($1, $2, $3, $4, $5)`,
		seq, subscriptionID, deviceID, state, s.t(at))
	return seq, s.dbErr("append revocation", err)
}

// RevocationsSince returns entries after cursor in seq order.
func (s *Store) RevocationsSince(ctx context.Context, cursor int64, limit int) ([]syncserver.Revocation, int64, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	rows, err := s.reader().QueryContext(ctx, `SELECT seq, subscription_id, device_id, state, at FROM revocations WHERE seq > $1 ORDER BY seq LIMIT $2`, cursor, limit)
	if err != nil {
		return nil, cursor, s.dbErr("list revocations", err)
	}
	defer rows.Close()
	out := []syncserver.Revocation{}
	for rows.Next() {
		var r syncserver.Revocation
		if err := rows.Scan(&r.Seq, &r.SubscriptionID, &r.DeviceID, &r.State, tm(&r.At)); err != nil {
			return nil, cursor, s.dbErr("list revocations", err)
		}
		out = append(out, r)
		cursor = r.Seq
	}
	return out, cursor, s.dbErr("list revocations", rows.Err())
}

// RevocationsFor returns one subscription's entries after cursor. The new
// cursor is the counter's value, read first: every entry up to it has
// committed (entries commit in seq order), so skipping to it loses nothing.
func (s *Store) RevocationsFor(ctx context.Context, subscriptionID string, cursor int64) ([]syncserver.Revocation, int64, error) {
	var latest int64
	if err := s.reader().QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'revocation_seq'`).Scan(&latest); err != nil {
		return nil, cursor, s.dbErr("revocation cursor", err)
	}
	if latest <= cursor {
		return []syncserver.Revocation{}, max(cursor, latest), nil
	}
	out, err := queryAll(ctx, s, "list revocations", `SELECT seq, subscription_id, device_id, state, at FROM revocations
		WHERE subscription_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`, []any{subscriptionID, cursor, latest}, scanRevocation)
	return out, latest, err
}

func scanRevocation(row scanner, r *syncserver.Revocation) error {
	return row.Scan(&r.Seq, &r.SubscriptionID, &r.DeviceID, &r.State, tm(&r.At))
}
