package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLingerWaitsOnlyWhileOthersAreComing(t *testing.T) {
	act := func(inFlight int) *job { return &job{isolate: true, inFlight: inFlight} }
	for _, tc := range []struct {
		name   string
		first  *job
		queued []*job
		want   int // jobs in the batch linger returns
		left   int // jobs it leaves queued
	}{
		{"one caller activating one device after another", act(1), []*job{act(1)}, 1, 1},
		{"unknown count (the store used directly)", act(0), []*job{act(0)}, 1, 1},
		{"three at a time: it commits once it holds all three", act(3), []*job{act(3), act(3), act(3)}, 3, 1},
		{"many in flight: it gathers them until none is left outside", act(8), []*job{act(7), act(6), act(4), act(4), act(4)}, 4, 2},
		{"a sync ends the wait", act(8), []*job{act(8), {key: "sync"}, act(8)}, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &group{jobs: make(chan *job, 16), closing: make(chan struct{}), lingers: true}
			for _, j := range tc.queued {
				g.jobs <- j
			}
			batch := g.linger([]*job{tc.first})
			assert.Len(t, batch, tc.want)
			assert.Len(t, g.jobs, tc.left)
		})
	}
}

func TestSeveralCommittersDoNotLinger(t *testing.T) {
	g := &group{jobs: make(chan *job, 16), closing: make(chan struct{}), lingers: false}
	g.jobs <- &job{isolate: true, inFlight: 8}
	batch := g.linger([]*job{{isolate: true, inFlight: 8}})
	assert.Len(t, batch, 1, "no committer's batch can hold all in flight: waiting would only add latency")
	assert.Len(t, g.jobs, 1)
}
