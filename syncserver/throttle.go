package syncserver

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Sign-in throttling slows an attacker's guesses without locking the owner
// out. Failures are counted per account and address together, and per
// address alone; past a few free failures each further one doubles the wait
// before the next attempt from there, up to throttleMaxWait. Nothing is
// counted per account alone: a correct password from an address with no
// failures always goes through, so guessing from elsewhere cannot lock an
// admin out.
const (
	pairFreeFailures    = 3  // per account and address
	addressFreeFailures = 20 // per address, across accounts
	throttleMaxWait     = 15 * time.Minute
	throttleForget      = time.Hour // failures older than this are forgotten
	throttleMaxEntries  = 50_000    // about 5 MB; see throttle.add
)

type throttleKey [16]byte

// throttleKeyOf keys an entry on a hash, so that a long email costs the map
// no more than a short one.
func throttleKeyOf(parts ...string) throttleKey {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var k throttleKey
	copy(k[:], h.Sum(nil))
	return k
}

type throttleEntry struct {
	failures int
	last     time.Time
}

// wait is how long after e.last the next attempt must wait.
func (e *throttleEntry) wait(free int) time.Duration {
	over := e.failures - free
	if over <= 0 {
		return 0
	}
	if over > 10 {
		return throttleMaxWait
	}
	return min(time.Second<<(over-1), throttleMaxWait)
}

type throttle struct {
	mu        sync.Mutex
	entries   map[throttleKey]*throttleEntry
	lastPrune time.Time
}

func newThrottle() *throttle {
	return &throttle{entries: make(map[throttleKey]*throttleEntry)}
}

// attempt is a sign-in admitted by the throttle, counted as a failure until
// it succeeds.
type attempt struct {
	pair, addr throttleKey
}

// begin admits an attempt or says how long to wait. An admitted attempt
// is counted as a failure at once, in the same locked step, so that
// parallel guesses cannot all slip under the limit; success takes it back.
func (t *throttle) begin(email, address string, now time.Time) (*attempt, time.Duration) {
	a := &attempt{pair: throttleKeyOf("pair", email, address), addr: throttleKeyOf("addr", address)}
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range []struct {
		key  throttleKey
		free int
	}{{a.pair, pairFreeFailures}, {a.addr, addressFreeFailures}} {
		e, ok := t.entries[k.key]
		if !ok {
			continue
		}
		if now.Sub(e.last) >= throttleForget {
			delete(t.entries, k.key)
			continue
		}
		if w := e.last.Add(e.wait(k.free)).Sub(now); w > wait {
			wait = w
		}
	}
	if wait > 0 {
		return nil, wait.Round(time.Second) + time.Second
	}
	t.add(a.pair, now)
	t.add(a.addr, now)
	return a, 0
}

// add counts a failure for k, making room when the map is full: first by
// dropping forgotten entries (at most once a minute, as it scans the map),
// then an arbitrary one, which only ever shortens someone's wait.
func (t *throttle) add(k throttleKey, now time.Time) {
	e, ok := t.entries[k]
	if !ok {
		if len(t.entries) >= throttleMaxEntries {
			if now.Sub(t.lastPrune) >= time.Minute {
				t.lastPrune = now
				for old, oe := range t.entries {
					if now.Sub(oe.last) >= throttleForget {
						delete(t.entries, old)
					}
				}
			}
			for old := range t.entries {
				if len(t.entries) < throttleMaxEntries {
					break
				}
				delete(t.entries, old)
			}
		}
		e = &throttleEntry{}
		t.entries[k] = e
	}
	e.failures++
	e.last = now
}

// succeeded clears the account's failures from this address and takes the
// address's reservation back; an entry that falls to zero is dropped.
func (t *throttle) succeeded(a *attempt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, a.pair)
	if e, ok := t.entries[a.addr]; ok {
		if e.failures--; e.failures <= 0 {
			delete(t.entries, a.addr)
		}
	}
}

// len is the number of entries, for tests and metrics.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
