package license_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
)

func TestARevocationListRoundTrips(t *testing.T) {
	k := testkeys.Signer(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := license.RevocationList{Issuer: license.Issuer, IssuedAt: at.Unix(), Cursor: 7, Revocations: []license.Revocation{
		{Seq: 6, SubscriptionID: "0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10", State: license.StateSuspended, At: at},
		{Seq: 7, SubscriptionID: "0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10", DeviceID: "d-1", State: license.StateBlocked, At: at},
	}}
	doc, err := license.SignJSON(k.Signer(), k.ID, license.RevocationListType, in)
	require.NoError(t, err)
	got, err := license.ParseRevocationList(doc, testkeys.Set(t))
	require.NoError(t, err)
	assert.Equal(t, in, *got)

	for name, forged := range map[string]func() (string, error){
		"another typ": func() (string, error) { return license.SignJSON(k.Signer(), k.ID, license.Type, in) },
		"another key": func() (string, error) {
			a := testkeys.Attacker(t)
			return license.SignJSON(a.Signer(), a.ID, license.RevocationListType, in)
		},
		"camelCase members": func() (string, error) {
			return license.SignJSON(k.Signer(), k.ID, license.RevocationListType, map[string]any{"iss": license.Issuer, "revocationCursor": 7})
		},
	} {
		doc, err := forged()
		require.NoError(t, err, name)
		_, err = license.ParseRevocationList(doc, testkeys.Set(t))
		assert.ErrorIs(t, err, license.ErrInvalid, name)
	}
}
