package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// errReplayed refuses a DPoP proof whose id was taken already.
func errReplayed() error {
	return syncserver.Errorf(syncserver.KindUnauthorized, syncserver.CodeInvalidProof,
		"this DPoP proof was used already; make a new proof for each request")
}

// UseProofID records a proof id; a second use before it expires is
// refused. The primary key does the checking, so two replicas racing with
// one proof cannot both pass.
func (s *Store) UseProofID(ctx context.Context, id string, expires time.Time) error {
	taken, err := s.takeProofID(ctx, id, expires)
	if err != nil {
		return err
	}
	if !taken {
		return errReplayed()
	}
	return nil
}

// takeProofID records a proof id and says whether it was new.
func (s *Store) takeProofID(ctx context.Context, id string, expires time.Time) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `INSERT INTO proof_ids (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, proofKey(id, expires))
	if err != nil {
		return false, s.dbErr("use proof id", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// proofKey is a proof id as stored: its expiry, in zero-padded Unix
// seconds, then the id. Proofs come in time order, so keys grow: inserts
// append to the index instead of dirtying a random page of it each.
func proofKey(id string, expires time.Time) string {
	return fmt.Sprintf("%012d.%s", max(expires.Unix(), 0), id)
}

// PruneProofIDs deletes proof ids that expired before before, in chunks,
// so that SQLite's one write lock is never held long.
func (s *Store) PruneProofIDs(ctx context.Context, before time.Time) (int, error) {
	total := 0
	bound := fmt.Sprintf("%012d", max(before.Unix(), 0))
	for {
		res, err := s.writer().ExecContext(ctx, `DELETE FROM proof_ids WHERE id IN (SELECT id FROM proof_ids WHERE id < $1 ORDER BY id LIMIT $2)`, bound, jobChunk*10)
		if err != nil {
			return total, s.dbErr("prune proof ids", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		if n < jobChunk*10 {
			return total, nil
		}
	}
}

// enrol binds a key to a device that has none, and says whether it did.
func (s *Store) enrol(ctx context.Context, deviceRowID string, k *syncserver.DeviceKey) (bool, error) {
	res, err := s.writer().ExecContext(ctx, `UPDATE devices SET public_key = $2, public_key_jkt = $3 WHERE id = $1 AND public_key_jkt = ''`,
		deviceRowID, k.PublicKey, k.Thumbprint)
	if err != nil {
		return false, s.dbErr("enrol device key", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func errEnrolledMeanwhile() error {
	return syncserver.Errorf(syncserver.KindUnauthorized, syncserver.CodeInvalidProof,
		"this device enrolled another key meanwhile; activate it again with its license key")
}
