package storetest

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowlytix/licensing/syncserver"
)

// BenchmarkRecordSync100 measures storing one sync of 100 usage events and
// a heartbeat: one transaction, batched inserts. The syncs rotate over 200
// devices, as a server's do; one device receiving every event would make
// each random event id land on its own page of an ever larger index.
func BenchmarkRecordSync100(b *testing.B, open Opener) {
	s := open(b)
	x := subscription(b, s, 200)
	devs := make([]*syncserver.Device, 200)
	for i := range devs {
		d, _, err := s.Activate(ctx, activation(x, fmt.Sprintf("bench-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		devs[i] = d
	}
	ids := make([]string, 100)
	at := time.Now().UTC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ids {
			ids[j] = uuid.NewString()
		}
		batch := usageBatch(devs[i%len(devs)], ids, at.Add(time.Duration(i)*time.Millisecond))
		res, err := s.RecordSync(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if res.Accepted != 100 {
			b.Fatalf("accepted %d, want 100", res.Accepted)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRecordSyncConcurrent measures what licensed's sync load asks of
// the store: 32 callers at once, each storing syncs of one heartbeat and 10
// usage events over 1,000 devices, which the group committer gathers into
// shared transactions. It is the ceiling for cmd/loadgen's sync figure
// without HTTP, JSON and token checks.
func BenchmarkRecordSyncConcurrent(b *testing.B, open Opener) {
	s := open(b)
	x := subscription(b, s, 1000)
	devs := make([]*syncserver.Device, 1000)
	for i := range devs {
		d, _, err := s.Activate(ctx, activation(x, fmt.Sprintf("bench-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		devs[i] = d
	}
	var next atomic.Int64
	at := time.Now().UTC()
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ids := make([]string, 10)
		for pb.Next() {
			i := next.Add(1)
			for j := range ids {
				ids[j] = uuid.NewString()
			}
			batch := usageBatch(devs[i%int64(len(devs))], ids, at.Add(time.Duration(i)*time.Millisecond))
			res, err := s.RecordSync(ctx, batch)
			if err != nil {
				b.Error(err)
				return
			}
			if res.Accepted != len(ids) {
				b.Errorf("accepted %d, want %d", res.Accepted, len(ids))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkActivate measures one activation taking a new seat, without
// and with its device.activated event in the outbox (what the service
// writes): the outbox's cost on the write path, read off one run.
func BenchmarkActivate(b *testing.B, open Opener) {
	for _, withEvent := range []bool{false, true} {
		name := "event=no"
		if withEvent {
			name = "event=yes"
		}
		b.Run(name, func(b *testing.B) {
			s := open(b) // a fresh store each run: a table grown by the runs before would weigh on the later
			x := subscription(b, s, 1_000_000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a := activation(x, fmt.Sprintf("device-%d", i))
				if withEvent {
					e, err := syncserver.NewEvent(syncserver.EventDeviceActivated, map[string]any{"object": "device",
						"device": map[string]any{"device_id": a.DeviceID, "platform": a.Platform}, "subscription_id": x.ID}, a.At)
					if err != nil {
						b.Fatal(err)
					}
					a.Event = e
				}
				if _, _, err := s.Activate(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOverviewAtScale reads the dashboard from a store that
// cmd/seedgen filled (1,000,000 devices and 10,000,000 usage events is the
// size the goal names: under 100 ms an overview).
func BenchmarkOverviewAtScale(b *testing.B, s syncserver.Store) {
	now := time.Now().UTC()
	o, err := s.Overview(ctx, now, 30)
	if err != nil {
		b.Fatal(err)
	}
	if o.ActiveDevices == 0 || len(o.Usage) == 0 || o.ActiveSubscriptions == 0 {
		b.Fatalf("the store looks empty (active devices %d, usage rows %d): seed it with cmd/seedgen", o.ActiveDevices, len(o.Usage))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Overview(ctx, now, 30); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/overview")
}

// BenchmarkListsAtScale reads the first page of the admin's lists of a
// seeded store: subscriptions, one subscription's devices, and the
// subscriptions expiring within 30 days.
func BenchmarkListsAtScale(b *testing.B, s syncserver.Store) {
	subs, total, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{})
	if err != nil || total == 0 {
		b.Fatalf("list subscriptions: %d rows, %v: seed the store with cmd/seedgen", total, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.ListDevices(ctx, syncserver.DeviceFilter{SubscriptionID: subs[i%len(subs)].ID}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.ListSubscriptions(ctx, syncserver.SubscriptionFilter{ExpiringBefore: time.Now().Add(30 * 24 * time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
}
