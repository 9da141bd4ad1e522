package httpapi

import (
	"sync"
	"time"
)

// Limit is a rate: Burst requests each Every, in bursts of up to Burst. A
// negative Burst turns the limit off.
type Limit struct {
	Burst int
	Every time.Duration
}

// limiter is a keyed token bucket, in memory: each replica limits on its
// own, which bounds guessing per replica and is enough with a few of them.
// It forgets idle keys so that a flood of distinct addresses cannot grow it
// without bound.
type limiter struct {
	mu      sync.Mutex
	limit   Limit
	buckets map[string]*bucket
	max     int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(l Limit) *limiter {
	return &limiter{limit: l, buckets: make(map[string]*bucket), max: 100_000}
}

// allow takes a token for key, or says how long until one is there.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil || l.limit.Burst < 0 {
		return true, 0
	}
	rate := float64(l.limit.Burst) / l.limit.Every.Seconds() // tokens a second
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(l.limit.Burst), last: now}
		l.buckets[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * rate
	if b.tokens > float64(l.limit.Burst) {
		b.tokens = float64(l.limit.Burst)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// sweep drops buckets that have refilled (idle keys); if none has, it drops
// an arbitrary half, which at worst forgives some clients early.
func (l *limiter) sweep(now time.Time) {
	full := l.limit.Every
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.max {
		return
	}
	n := 0
	for k := range l.buckets {
		delete(l.buckets, k)
		if n++; n >= l.max/2 {
			break
		}
	}
}
