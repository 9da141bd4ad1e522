package sqlstore

import (
	"context"
	"sort"

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
		res, refused, err := s.recordSync(ctx, b, r)
		if err != nil {
			return res, err
		}
		if refused != nil {
			return syncserver.SyncResult{}, refused
		}
		return res, r.flush(ctx, s)
	}
	var res syncserver.SyncResult
	var refused error
	err := s.group.do(ctx, s, &job{key: b.DeviceRowID, run: func(ctx context.Context, tx *Store, r *rollup) error {
		var err error
		res, refused, err = tx.recordSync(ctx, b, r)
		return err
	}})
	if err != nil {
		return syncserver.SyncResult{}, err
	}
	if refused != nil {
		return syncserver.SyncResult{}, refused
	}
	return res, nil
}

// recordSync writes one sync inside a transaction, adding its rollup
// figures to r instead of writing them, so that a group writes each rollup
// row once.
//
// A sync refused by the database's word (its proof used already, a key
// enrolled meanwhile) comes back as refused, having written nothing else:
// not as an error, which would fail the whole group and send every other
// sync of it through a transaction of its own, for a replay anyone can
// send.
func (s *Store) recordSync(ctx context.Context, b syncserver.SyncBatch, r *rollup) (res syncserver.SyncResult, refused, err error) {
	if b.ProofID != "" {
		taken, err := s.takeProofID(ctx, b.ProofID, b.ProofExpires)
		if err != nil {
			return res, nil, err
		}
		if !taken {
			return res, errReplayed(), nil
		}
	}
	if b.Enrol != nil {
		enrolled, err := s.enrol(ctx, b.DeviceRowID, b.Enrol)
		if err != nil {
			return res, nil, err
		}
		if !enrolled {
			return res, errEnrolledMeanwhile(), nil
		}
	}
	day := syncserver.Day(b.At)
	if err := s.markSeen(ctx, b, day, r); err != nil {
		return res, nil, err
	}
	if err := s.insertHeartbeats(ctx, b.DeviceRowID, b.Heartbeats); err != nil {
		return res, nil, err
	}
	accepted, err := s.insertUsage(ctx, b, r)
	if err != nil {
		return res, nil, err
	}
	if b.File != nil {
		f := *b.File
		f.DeviceRowID = b.DeviceRowID
		if err := s.RecordLicenseFile(ctx, &f); err != nil {
			return res, nil, err
		}
	}
	res.Accepted = accepted
	res.Duplicates = len(b.Usage) - accepted
	return res, nil, nil
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
	// events are written last, after every other row of the transaction:
	// the event counter is then the last lock it takes, the same for
	// every committer, so that several cannot deadlock on it.
	events []*syncserver.Event
}

func newRollup() *rollup {
	return &rollup{stats: map[[2]string]int64{}, usage: map[usageKey]*usageSum{}}
}

func (r *rollup) merge(o *rollup) {
	r.events = append(r.events, o.events...)
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
	if err := r.flushFigures(ctx, s); err != nil {
		return err
	}
	for _, e := range r.events {
		if err := s.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// flushFigures writes the rollup figures.
func (r *rollup) flushFigures(ctx context.Context, s *Store) error {
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
	// Two rollups from the same sums: per subscription (the customer's
	// page), and over all subscriptions (the overview).
	keys := make([]usageKey, 0, len(r.usage))
	daily := map[usageKey]*usageSum{}
	for k, v := range r.usage {
		keys = append(keys, k)
		dk := usageKey{day: k.day, feature: k.feature}
		if daily[dk] == nil {
			daily[dk] = &usageSum{}
		}
		daily[dk].events += v.events
		daily[dk].count += v.count
		daily[dk].duration += v.duration
	}
	dkeys := make([]usageKey, 0, len(daily))
	for k := range daily {
		dkeys = append(dkeys, k)
	}
	byKey := func(keys []usageKey) func(i, j int) bool {
		return func(i, j int) bool {
			a, b := keys[i], keys[j]
			if a.day != b.day {
				return a.day < b.day
			}
			if a.feature != b.feature {
				return a.feature < b.feature
			}
			return a.subscription < b.subscription
		}
	}
	sort.Slice(dkeys, byKey(dkeys))
	sort.Slice(keys, byKey(keys))
	for _, k := range dkeys {
		v := daily[k]
		if _, err := s.writer().ExecContext(ctx, `INSERT INTO usage_daily (day, feature, events, total_count, total_duration) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (day, feature) DO UPDATE SET events = usage_daily.events + excluded.events,
			total_count = usage_daily.total_count + excluded.total_count, total_duration = usage_daily.total_duration + excluded.total_duration`,
			k.day, k.feature, v.events, v.count, v.duration); err != nil {
			return s.dbErr("update usage rollup", err)
		}
	}
	for start := 0; start < len(keys); start += RowsPerInsert {
		chunk := keys[start:min(start+RowsPerInsert, len(keys))]
		args := make([]any, 0, 5*len(chunk))
		for _, k := range chunk {
			v := r.usage[k]
			args = append(args, k.subscription, k.day, k.feature, v.events, v.count)
		}
		if _, err := s.writer().ExecContext(ctx, `INSERT INTO usage_daily_by_subscription (subscription_id, day, feature, events, total_count) VALUES `+
			s.values(len(chunk), 5, 1)+` ON CONFLICT (subscription_id, day, feature) DO UPDATE SET events = usage_daily_by_subscription.events + excluded.events,
			total_count = usage_daily_by_subscription.total_count + excluded.total_count`, args...); err != nil {
			return s.dbErr("update usage rollup by subscription", err)
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
