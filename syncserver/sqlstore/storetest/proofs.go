package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/syncserver"
)

func testProofIDsAndKeys(t *testing.T, s syncserver.Store) {
	now := time.Now().UTC().Truncate(time.Second)
	exp := now.Add(5 * time.Minute)
	// However many race with one proof, one takes it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken, refused := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UseProofID(ctx, "proof-a", exp)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				taken++
				return
			}
			var e *syncserver.Error
			if assert.ErrorAs(t, err, &e) {
				assert.Equal(t, syncserver.CodeInvalidProof, e.Code)
			}
			refused++
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, taken)
	assert.Equal(t, 7, refused)
	require.NoError(t, s.UseProofID(ctx, "proof-b", exp.Add(time.Minute)))

	// Pruning forgets only what expired.
	n, err := s.PruneProofIDs(ctx, exp.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Error(t, s.UseProofID(ctx, "proof-b", exp.Add(time.Minute)), "not expired: still remembered")

	// Devices are found by their key's thumbprint; a key is kept through
	// a sync and replaced by an activation that brings another.
	x := subscription(t, s, 2)
	a := activation(x, "keyed")
	a.PublicKey, a.KeyThumbprint = `{"crv":"P-256","kty":"EC","x":"a","y":"b"}`, "jkt-one"
	d, _, err := s.Activate(ctx, a)
	require.NoError(t, err)
	devs, err := s.DevicesByKey(ctx, "jkt-one")
	require.NoError(t, err)
	require.Len(t, devs, 1)
	assert.Equal(t, d.ID, devs[0].ID)
	assert.Equal(t, a.PublicKey, devs[0].PublicKey)
	_, err = s.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: d.ID, SubscriptionID: x.ID, At: now, ProofID: "proof-c", ProofExpires: exp})
	require.NoError(t, err)
	_, err = s.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: d.ID, SubscriptionID: x.ID, At: now, ProofID: "proof-c", ProofExpires: exp})
	assert.Error(t, err, "a sync with a proof taken already stores nothing")
	// Enrolment binds a key only to a device that has none.
	_, err = s.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: d.ID, SubscriptionID: x.ID, At: now, Enrol: &syncserver.DeviceKey{PublicKey: "{}", Thumbprint: "jkt-two"}})
	assert.Error(t, err)
	got, err := s.GetDevice(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, "jkt-one", got.KeyThumbprint)
	a.KeyThumbprint = "jkt-three"
	_, _, err = s.Activate(ctx, a)
	require.NoError(t, err)
	devs, err = s.DevicesByKey(ctx, "jkt-one")
	require.NoError(t, err)
	assert.Empty(t, devs, "activating again with another key replaces it")
	// An activation without a key (an older app) leaves the key in place.
	a.PublicKey, a.KeyThumbprint = "", ""
	_, _, err = s.Activate(ctx, a)
	require.NoError(t, err)
	got, err = s.GetDevice(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, "jkt-three", got.KeyThumbprint, "a key is never taken away by an activation")
	old := activation(x, "old")
	od, _, err := s.Activate(ctx, old)
	require.NoError(t, err)
	_, err = s.RecordSync(ctx, syncserver.SyncBatch{DeviceRowID: od.ID, SubscriptionID: x.ID, At: now, Enrol: &syncserver.DeviceKey{PublicKey: "{}", Thumbprint: "jkt-four"}})
	require.NoError(t, err)
	got, err = s.GetDevice(ctx, od.ID)
	require.NoError(t, err)
	assert.Equal(t, "jkt-four", got.KeyThumbprint, "a device without a key enrols")
}
