package sqlstore

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// maxGroup bounds how many syncs one transaction stores.
const maxGroup = 64

// group is the group committer of RecordSync.
type group struct {
	once    sync.Once
	jobs    chan *syncJob
	closing chan struct{}
	wg      sync.WaitGroup
	// mu orders enqueueing against close: a job is queued under the read
	// lock only while the group is open, and close takes the write lock
	// before the committers drain, so no job is left behind unanswered.
	mu     sync.RWMutex
	closed bool
}

type syncJob struct {
	ctx  context.Context
	b    syncserver.SyncBatch
	res  syncserver.SyncResult
	err  error
	done chan struct{}
}

var errClosed = errors.New("store is closed")

func (g *group) start(s *Store) {
	g.once.Do(func() {
		g.jobs = make(chan *syncJob, 1024)
		n := s.d.SyncCommitters
		if n < 1 {
			n = 1
		}
		for range n {
			g.wg.Add(1)
			go g.loop(s)
		}
	})
}

func (g *group) submit(ctx context.Context, s *Store, b syncserver.SyncBatch) (syncserver.SyncResult, error) {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return syncserver.SyncResult{}, errClosed
	}
	g.start(s)
	j := &syncJob{ctx: ctx, b: b, done: make(chan struct{})}
	select {
	case g.jobs <- j:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return syncserver.SyncResult{}, ctx.Err()
	}
	// Wait for the commit even if ctx ends meanwhile: the caller must not
	// be told "failed" about data that was stored.
	<-j.done
	return j.res, j.err
}

func (g *group) loop(s *Store) {
	defer g.wg.Done()
	for {
		var first *syncJob
		select {
		case first = <-g.jobs:
		case <-g.closing:
			// Drain what was queued before the close.
			for {
				select {
				case j := <-g.jobs:
					g.commit(s, []*syncJob{j})
				default:
					return
				}
			}
		}
		batch := []*syncJob{first}
	more:
		for len(batch) < maxGroup {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		g.commit(s, batch)
	}
}

// commit stores a batch in one transaction. If that fails, each sync is
// tried on its own, so that one bad sync (a device deleted meanwhile)
// costs the others nothing.
func (g *group) commit(s *Store, batch []*syncJob) {
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.err = err
			close(j.done)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	// Device rows in id order: concurrent groups (several committers on
	// PostgreSQL) then lock them in the same order and cannot deadlock.
	sort.SliceStable(live, func(i, k int) bool { return live[i].b.DeviceRowID < live[k].b.DeviceRowID })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.inTx(ctx, func(tx *Store) error {
		total := newRollup()
		for _, j := range live {
			r := newRollup()
			res, err := tx.recordSync(ctx, j.b, r)
			if err != nil {
				return err
			}
			j.res = res
			total.merge(r)
		}
		return total.flush(ctx, tx)
	})
	if err != nil && len(live) > 1 {
		for _, j := range live {
			g.commit(s, []*syncJob{j})
		}
		return
	}
	for _, j := range live {
		j.err = err
		if err != nil {
			j.res = syncserver.SyncResult{}
		}
		close(j.done)
	}
}

func (g *group) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.closing)
	}
	g.mu.Unlock()
	g.wg.Wait()
}
