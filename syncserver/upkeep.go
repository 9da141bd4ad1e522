package syncserver

import (
	"context"
	"time"
)

// The scheduled upkeep (syncserver/jobs runs it): each is one call that
// takes its time from the service's clock.

// ExpireSubscriptions marks active subscriptions past their grace expired.
func (s *Service) ExpireSubscriptions(ctx context.Context) (int, error) {
	return s.store.ExpireSubscriptions(ctx, s.Now())
}

// IdleDevices marks devices silent for longer than silence inactive, and
// frees the seats of those silent longer than their plan allows.
func (s *Service) IdleDevices(ctx context.Context, silence time.Duration) (inactive, freed int, err error) {
	now := s.Now()
	return s.store.MarkInactiveDevices(ctx, now.Add(-silence), now)
}

// PruneLogs deletes validation log entries and heartbeats older than
// retention.
func (s *Service) PruneLogs(ctx context.Context, retention time.Duration) (validations, heartbeats int, err error) {
	before := s.Now().Add(-retention)
	if validations, err = s.store.PruneValidations(ctx, before); err != nil {
		return 0, 0, err
	}
	heartbeats, err = s.store.PruneHeartbeats(ctx, before)
	return validations, heartbeats, err
}

// PruneProofIDs forgets the DPoP proof ids whose proofs are too old to be
// taken anyway, a window late: a replica whose clock runs behind this
// one's still refuses them.
func (s *Service) PruneProofIDs(ctx context.Context) (int, error) {
	return s.store.PruneProofIDs(ctx, s.Now().Add(-s.proofWindow))
}

// TryJobLock takes a scheduled job's lock so that, of several replicas,
// one runs it at a time; ok is false when another holds it.
func (s *Service) TryJobLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	return s.store.TryJobLock(ctx, name)
}
