package sqlstore

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"time"
)

// maxGroup bounds how many writes one transaction carries.
const maxGroup = 64

// activationLinger is how long at most a group of nothing but activations
// waits for more before it commits. Activations arrive one at a time, each
// after its own RSA signature, so without a wait each is a transaction of
// its own: a commit, an fsync and a dozen WAL pages. With one committer
// (SQLite; see group.lingers) a group waits only while other activations
// are still in the service, signing most likely, and commits as soon as it
// holds them all: a caller activating devices one after another never
// waits, and a few at a time commit together as soon as the last is
// signed. A sync arriving ends the wait too: syncs are what latency goals
// are set for. 12 ms is a few signatures' time: long enough for the
// activations in flight to arrive, short enough that nobody notices
// (docs/benchmarks.md has the figures against the flat wait it replaced).
const activationLinger = 12 * time.Millisecond

// group is the group committer: writes that would each be a transaction of
// their own (syncs, activations) queue here, and a committer stores all
// that wait at that moment in one transaction. A burst then costs one
// commit, one fsync and one turn of SQLite's single write connection
// instead of one each. Every caller returns only once its own write has
// committed (or failed), so nothing is acknowledged before it is durable.
type group struct {
	once    sync.Once
	jobs    chan *job
	closing chan struct{}
	wg      sync.WaitGroup
	// mu orders enqueueing against close: a job is queued under the read
	// lock only while the group is open, and close takes the write lock
	// before the committers drain, so no job is left behind unanswered.
	mu     sync.RWMutex
	closed bool
	// lingers says groups of activations may wait for company: only with
	// one committer, whose batch can hold every activation in flight.
	// With several (PostgreSQL) a batch never holds them all, so each
	// would wait its full time; there they commit side by side instead.
	lingers bool
}

// job is one write. run writes through tx, adding rollup figures to r.
// An isolated job runs inside a savepoint, so that its failure (a seat
// limit, say) undoes it alone; the others fail rarely and run bare, and a
// failure among them sends each job of the group through a transaction of
// its own.
type job struct {
	ctx     context.Context
	key     string // jobs of one group run in key order: rows lock in one order
	isolate bool
	// inFlight is, for an activation, how many the service was handling
	// when it queued this one (internal/loadhint).
	inFlight int
	run      func(ctx context.Context, tx *Store, r *rollup) error
	err      error
	done     chan struct{}
}

var errClosed = errors.New("store is closed")

func (g *group) start(s *Store) {
	g.once.Do(func() {
		g.jobs = make(chan *job, 1024)
		n := s.d.SyncCommitters
		if n < 1 {
			n = 1
		}
		g.lingers = n == 1
		for range n {
			g.wg.Add(1)
			go g.loop(s)
		}
	})
}

// do queues a write and waits for its commit.
func (g *group) do(ctx context.Context, s *Store, j *job) error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return errClosed
	}
	g.start(s)
	j.ctx, j.done = ctx, make(chan struct{})
	select {
	case g.jobs <- j:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	// Wait for the commit even if ctx ends meanwhile: the caller must not
	// be told "failed" about data that was stored.
	<-j.done
	return j.err
}

func (g *group) loop(s *Store) {
	defer g.wg.Done()
	for {
		var first *job
		select {
		case first = <-g.jobs:
		case <-g.closing:
			// Drain what was queued before the close.
			for {
				select {
				case j := <-g.jobs:
					g.commit(s, []*job{j})
				default:
					return
				}
			}
		}
		batch := []*job{first}
	more:
		for len(batch) < maxGroup {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		batch = g.linger(batch)
		g.commit(s, batch)
	}
}

// linger lets a batch of activations wait for company (activationLinger)
// while others are on their way.
func (g *group) linger(batch []*job) []*job {
	if !g.lingers {
		return batch
	}
	for _, j := range batch {
		if !j.isolate {
			return batch
		}
	}
	if !g.othersComing(batch) {
		return batch
	}
	t := time.NewTimer(activationLinger)
	defer t.Stop()
	for len(batch) < maxGroup && g.othersComing(batch) {
		select {
		case j := <-g.jobs:
			batch = append(batch, j)
			if !j.isolate {
				return batch
			}
		case <-t.C:
			return batch
		case <-g.closing:
			return batch
		}
	}
	return batch
}

// othersComing reports whether, by the newest job's count, activations
// outside batch are still in the service. (It counts an activation once
// its handler runs: with every core busy, requests not yet read are not
// counted, and the linger's limit ends the wait.)
func (g *group) othersComing(batch []*job) bool {
	return batch[len(batch)-1].inFlight > len(batch)
}

func (g *group) commit(s *Store, batch []*job) {
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
	sort.SliceStable(live, func(i, k int) bool { return live[i].key < live[k].key })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.inTx(ctx, func(tx *Store) error {
		total := newRollup()
		for i, j := range live {
			j.err = nil
			r := newRollup()
			if !j.isolate {
				if err := j.run(ctx, tx, r); err != nil {
					return err
				}
				total.merge(r)
				continue
			}
			sp := "job" + strconv.Itoa(i)
			if _, err := tx.tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
				return tx.dbErr("savepoint", err)
			}
			if j.err = j.run(ctx, tx, r); j.err != nil {
				if _, err := tx.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
					return tx.dbErr("rollback to savepoint", err)
				}
			} else {
				total.merge(r)
			}
			if _, err := tx.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
				return tx.dbErr("release savepoint", err)
			}
		}
		return total.flush(ctx, tx)
	})
	if err != nil && len(live) > 1 {
		for _, j := range live {
			g.commit(s, []*job{j})
		}
		return
	}
	for _, j := range live {
		if err != nil {
			j.err = err
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
