package storetest

import (
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
)

func testRevocationCursor(t *testing.T, s syncserver.Store) {
	const writers, flips = 6, 15
	subs := make([]*syncserver.Subscription, writers)
	for i := range subs {
		subs[i] = subscription(t, s, 1)
	}
	_, start, err := s.RevocationsSince(ctx, 0, 0)
	require.NoError(t, err)
	done := make(chan struct{})
	var readers sync.WaitGroup
	seen := make([][]int64, 3)
	for r := range seen {
		readers.Add(1)
		go func() {
			defer readers.Done()
			cursor := start
			for {
				select {
				case <-done:
					// One last read after every writer finished.
					revs, _, err := s.RevocationsSince(ctx, cursor, 0)
					assert.NoError(t, err)
					for _, e := range revs {
						seen[r] = append(seen[r], e.Seq)
					}
					return
				default:
				}
				revs, next, err := s.RevocationsSince(ctx, cursor, 0)
				if !assert.NoError(t, err) {
					return
				}
				for _, e := range revs {
					seen[r] = append(seen[r], e.Seq)
				}
				cursor = next
			}
		}()
	}
	var writersWG sync.WaitGroup
	for _, x := range subs {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			for i := range flips {
				status, state := syncserver.SubscriptionSuspended, syncserver.StateSuspended
				if i%2 == 1 {
					status, state = syncserver.SubscriptionActive, syncserver.StateActive
				}
				_, err := s.SetSubscriptionStatus(ctx, x.ID, status, state, time.Now())
				assert.NoError(t, err)
			}
		}()
	}
	writersWG.Wait()
	close(done)
	readers.Wait()

	all, _, err := s.RevocationsSince(ctx, start, 0)
	require.NoError(t, err)
	require.Len(t, all, writers*flips)
	for i := 1; i < len(all); i++ {
		require.Equal(t, all[i-1].Seq+1, all[i].Seq, "seq grows by one")
	}
	for r, got := range seen {
		assert.True(t, sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }), "reader %d saw seqs out of order", r)
		assert.Len(t, got, len(all), "reader %d missed entries that appeared behind its cursor", r)
	}
}

func testStatusAtomic(t *testing.T, s syncserver.Store) {
	x := subscription(t, s, 1)
	_, before, err := s.RevocationsSince(ctx, 0, 0)
	require.NoError(t, err)
	boom := errors.New("fail after the change")
	err = s.InTx(ctx, func(tx syncserver.Store) error {
		if _, err := tx.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now()); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := s.GetSubscription(ctx, x.ID)
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionActive, got.Status, "the status change rolled back")
	revs, _, err := s.RevocationsSince(ctx, before, 0)
	require.NoError(t, err)
	assert.Empty(t, revs, "and so did its revocation entry")

	_, err = s.SetSubscriptionStatus(ctx, uuid.NewString(), syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now())
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	revs, _, err = s.RevocationsSince(ctx, before, 0)
	require.NoError(t, err)
	assert.Empty(t, revs, "no entry for a subscription that does not exist")

	got, err = s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now())
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionRevoked, got.Status)
	revs, _, err = s.RevocationsSince(ctx, before, 0)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	assert.Equal(t, syncserver.StateRevoked, revs[0].State)
}

func testRevocationsFor(t *testing.T, s syncserver.Store) {
	a := subscription(t, s, 1)
	b := subscription(t, s, 1)
	_, start, err := s.RevocationsSince(ctx, 0, 0)
	require.NoError(t, err)
	for _, x := range []*syncserver.Subscription{a, b, a, b} {
		_, err := s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, time.Now())
		require.NoError(t, err)
	}
	revs, cursor, err := s.RevocationsFor(ctx, a.ID, start)
	require.NoError(t, err)
	require.Len(t, revs, 2)
	for _, r := range revs {
		assert.Equal(t, a.ID, r.SubscriptionID)
	}
	assert.Equal(t, start+4, cursor, "the cursor moves past the other subscription's entries too")
	revs, again, err := s.RevocationsFor(ctx, a.ID, cursor)
	require.NoError(t, err)
	assert.Empty(t, revs)
	assert.Equal(t, cursor, again)
}

func testRevokeRace(t *testing.T, s syncserver.Store) {
	for round := range 15 {
		x := subscription(t, s, 1)
		_, err := s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionSuspended, syncserver.StateSuspended, time.Now(), syncserver.SubscriptionActive)
		require.NoError(t, err)
		var wg sync.WaitGroup
		var revokeErr, reinstateErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, revokeErr = s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionRevoked, syncserver.StateRevoked, time.Now(),
				syncserver.SubscriptionActive, syncserver.SubscriptionSuspended)
		}()
		go func() {
			defer wg.Done()
			_, reinstateErr = s.SetSubscriptionStatus(ctx, x.ID, syncserver.SubscriptionActive, syncserver.StateActive, time.Now(),
				syncserver.SubscriptionSuspended)
		}()
		wg.Wait()
		require.NoError(t, revokeErr, "round %d: revoke starts from active or suspended, so it always applies", round)
		got, err := s.GetSubscription(ctx, x.ID)
		require.NoError(t, err)
		require.Equal(t, syncserver.SubscriptionRevoked, got.Status, "round %d: revoked is final", round)
		revs, _, err := s.RevocationsFor(ctx, x.ID, 0)
		require.NoError(t, err)
		require.Equal(t, syncserver.StateRevoked, revs[len(revs)-1].State, "round %d: the last entry says revoked", round)
		if reinstateErr != nil {
			assertCode(t, reinstateErr, syncserver.KindConflict, syncserver.CodeConflict)
		}
		x.MaxDevices = 5
		assertCode(t, s.UpdateSubscriptionTerms(ctx, x), syncserver.KindConflict, syncserver.CodeConflict)
	}
}
