// Package poll runs a step of background work again and again: at once
// while it finds work, every interval when it finds none. The webhook and
// mail loops of licensed are this, each around its Service step.
package poll

import (
	"context"
	"log/slog"
	"time"
)

// Run calls step until ctx ends. step says how much it did; after a step
// that did something the next comes at once (more may be waiting), after
// one that did nothing (or failed, which is logged as what) every waits.
func Run(ctx context.Context, every time.Duration, log *slog.Logger, what string, step func(context.Context) (int, error)) {
	if every <= 0 {
		every = time.Second
	}
	for {
		n, err := step(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn(what, "err", err)
		}
		wait := every
		if n > 0 && err == nil {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
