package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkRecordSync100 measures storing one sync of 100 usage events and
// a heartbeat: one transaction, batched inserts.
func BenchmarkRecordSync100(b *testing.B, open Opener) {
	s := open(b)
	x := subscription(b, s, 10)
	dev, _, err := s.Activate(ctx, activation(x, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 100)
	at := time.Now().UTC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ids {
			ids[j] = uuid.NewString()
		}
		batch := usageBatch(dev, ids, at.Add(time.Duration(i)*time.Millisecond))
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

// BenchmarkActivate measures one activation taking a new seat.
func BenchmarkActivate(b *testing.B, open Opener) {
	s := open(b)
	x := subscription(b, s, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.Activate(ctx, activation(x, fmt.Sprintf("device-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
}
