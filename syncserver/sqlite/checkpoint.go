package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"
)

// Checkpoints. In WAL mode a commit appends pages to the -wal file, and a
// checkpoint later copies them into the database file. By default the
// committing connection does that itself every 1,000 pages, so the one
// writer (and with it every queued sync) stops for the copy and an fsync of
// the database file. Here a connection of its own runs a PASSIVE checkpoint
// ten times a second instead: it runs beside the writer without blocking
// it, on the other core, and copies a page written many times once.
//
// A WAL is only started over from its beginning by a write transaction that
// finds it wholly copied, which under steady load a checkpoint beside the
// writer never achieves: new commits land while it copies. So when the WAL
// has grown past restartFrames, a second pass runs on the writer's own
// connection, between two of its transactions. It copies only what was
// committed during the first pass (a few milliseconds' work instead of the
// whole WAL), and the writer's next transaction restarts the WAL. The
// writer keeps an automatic checkpoint at a far larger size as a backstop.
const (
	restartFrames       = 2048 // 8 MiB of 4 KiB pages
	checkpointEvery     = 100 * time.Millisecond
	backstopPages       = 16384    // 64 MiB of 4 KiB pages
	walSizeLimit        = 64 << 20 // bytes the -wal file is cut back to after a checkpoint
	checkpointWarnEvery = 10 * time.Minute
)

// secondPassWait bounds how long the second pass waits for the writer's
// connection: behind a long transaction it gives up and tries next time.
const secondPassWait = time.Second

type checkpointer struct {
	path      string
	log       *slog.Logger
	db        *sql.DB
	writer    *sql.DB
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

func startCheckpointer(path, synchronous string, writer *sql.DB, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, url.Values{"_pragma": {"synchronous(" + synchronous + ")"}}))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	c := &checkpointer{path: path, log: log, db: db, writer: writer, stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var lastLogged time.Time
	var suppressed int
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		err := c.checkpoint()
		// A failure is logged, not fatal: the writer's own automatic
		// checkpoint still bounds the WAL. A failing disk would fail every
		// tick, so the warning repeats at most every checkpointWarnEvery.
		if err == nil {
			continue
		}
		if time.Since(lastLogged) < checkpointWarnEvery {
			suppressed++
			continue
		}
		c.log.Warn("sqlite checkpoint failed; the writer's own checkpoint bounds the WAL meanwhile",
			"db", c.path, "err", err, "failures_not_logged", suppressed)
		lastLogged, suppressed = time.Now(), 0
	}
}

// checkpoint runs the first pass, and the second when the WAL is long.
func (c *checkpointer) checkpoint() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, frames, copied int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return fmt.Errorf("checkpoint on its own connection: %w", err)
	}
	if frames < restartFrames {
		return nil
	}
	ctx, cancel = context.WithTimeout(ctx, secondPassWait)
	defer cancel()
	if err := c.writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil // the writer was busy for a second: next tick
		}
		return fmt.Errorf("second checkpoint pass on the writer's connection: %w", err)
	}
	return nil
}

// close stops the checkpointer; a second call does nothing.
func (c *checkpointer) close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.closeErr = c.db.Close()
	})
	return c.closeErr
}
