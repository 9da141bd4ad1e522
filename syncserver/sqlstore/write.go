package sqlstore

import (
	"time"

	"github.com/google/uuid"

	"github.com/flowlytix/licensing/syncserver"
)

// newID makes a row's id: a UUIDv7, which starts with the time. Rows made
// one after another then land at the right edge of the index on their id
// instead of on a random page of it, so a group commit of many activations
// writes a few index pages rather than one for each row. (The time it
// tells is the row's creation time, which the row holds anyway.)
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// given checks that a write carries its time: the service's clock is the
// only clock, so a store never reads its own.
func given(op string, t time.Time) error {
	if t.IsZero() {
		return &syncserver.Error{Kind: syncserver.KindInternal, Code: syncserver.CodeInternal, Message: op + ": no time given (the service's clock sets it)"}
	}
	return nil
}

// writer is where writes go: the transaction inside InTx, else the write
// pool; through the statement cache either way.
func (s *Store) writer() Querier {
	return cached{cache: s.stmts, db: s.write, tx: s.tx}
}
