package license_test

import (
	"crypto/rsa"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// endorsedFile signs sampleClaims with signer, carrying endorsement.
func endorsedFile(t testing.TB, signer *keys.Key, endorsement string, edit ...func(*license.Claims)) []byte {
	t.Helper()
	c := sampleClaims()
	c.KeyEndorsement = endorsement
	for _, e := range edit {
		e(c)
	}
	tok, err := license.Sign(signer.Signer(), signer.ID, c)
	require.NoError(t, err)
	return license.Armor(tok)
}

func endorse(t testing.TB, root *keys.Key, pub *rsa.PublicKey, at, notAfter time.Time) string {
	t.Helper()
	e, err := license.SignEndorsement(root.Signer(), root.ID, pub, at, notAfter)
	require.NoError(t, err)
	return e
}

func TestAnEndorsedFileVerifiesWithTheRootAlone(t *testing.T) {
	signer, root := testkeys.Signer(t), testkeys.Root(t)
	iat := sampleClaims().IssuedAt
	e := endorse(t, root, signer.Public, iat.Add(-time.Hour), time.Time{})
	file := endorsedFile(t, signer, e)

	roots := license.NewRoots(testkeys.RootSet(t))
	tok, err := roots.Verify(file)
	require.NoError(t, err)
	assert.Equal(t, signer.ID, tok.Header.Kid)
	_, err = roots.Verify(file) // remembered
	require.NoError(t, err)

	// An app built before endorsements, which embeds the signer, still
	// verifies the same file: the claim is one it ignores.
	_, err = license.Verify(file, testkeys.Set(t))
	require.NoError(t, err)
}

func TestTheRootRefusesWhatItDidNotEndorse(t *testing.T) {
	signer, root, attacker := testkeys.Signer(t), testkeys.Root(t), testkeys.Attacker(t)
	iat := sampleClaims().IssuedAt
	good := endorse(t, root, signer.Public, iat.Add(-time.Hour), time.Time{})
	otherUse, err := license.SignJSON(root.Signer(), root.ID, license.EndorsementType, map[string]any{
		"iss": license.Issuer, "use": "code-signing", "kid": signer.ID, "jwk": jwkOf(signer.Public), "iat": iat.Unix(), "nbf": iat.Unix() - 3600})
	require.NoError(t, err)
	wrongKid, err := license.SignJSON(root.Signer(), root.ID, license.EndorsementType, map[string]any{
		"iss": license.Issuer, "use": license.UseLicenseSigning, "kid": attacker.ID, "jwk": jwkOf(signer.Public), "iat": iat.Unix(), "nbf": iat.Unix() - 3600})
	require.NoError(t, err)
	wrongTyp, err := license.SignJSON(root.Signer(), root.ID, license.Type, map[string]any{
		"iss": license.Issuer, "use": license.UseLicenseSigning, "kid": signer.ID, "jwk": jwkOf(signer.Public), "iat": iat.Unix(), "nbf": iat.Unix() - 3600})
	require.NoError(t, err)

	for name, file := range map[string][]byte{
		"no endorsement":                   endorsedFile(t, signer, ""),
		"an endorsement by a non-root key": endorsedFile(t, signer, endorse(t, attacker, signer.Public, iat.Add(-time.Hour), time.Time{})),
		"signed before the window":         endorsedFile(t, signer, endorse(t, root, signer.Public, iat.Add(time.Hour), time.Time{})),
		"signed after the window":          endorsedFile(t, signer, endorse(t, root, signer.Public, iat.Add(-2*time.Hour), iat.Add(-time.Hour))),
		"an endorsement for another use":   endorsedFile(t, signer, otherUse),
		"a kid that is not the key's":      endorsedFile(t, signer, wrongKid),
		"an endorsement of the wrong typ":  endorsedFile(t, signer, wrongTyp),
		"a file signed by another key":     endorsedFile(t, attacker, good),
		"an endorsement of another key":    endorsedFile(t, signer, endorse(t, root, attacker.Public, iat.Add(-time.Hour), time.Time{})),
		"garbage in the endorsement claim": endorsedFile(t, signer, "not.a.jws"),
	} {
		_, err := license.NewRoots(testkeys.RootSet(t)).Verify(file)
		assert.ErrorIs(t, err, license.ErrInvalid, name)
	}
}

func TestARootRevokedKeyIsRefused(t *testing.T) {
	signer, root := testkeys.Signer(t), testkeys.Root(t)
	iat := sampleClaims().IssuedAt
	file := endorsedFile(t, signer, endorse(t, root, signer.Public, iat.Add(-time.Hour), time.Time{}))
	roots := license.NewRoots(testkeys.RootSet(t))
	_, err := roots.Verify(file)
	require.NoError(t, err)

	forged, err := license.SignKeyRevocation(testkeys.Attacker(t).Signer(), testkeys.Attacker(t).ID, signer.ID, time.Now())
	require.NoError(t, err)
	_, err = roots.Revoke(forged)
	require.Error(t, err, "only a root may revoke a key")
	_, err = roots.Verify(file)
	require.NoError(t, err)

	stmt, err := license.SignKeyRevocation(root.Signer(), root.ID, signer.ID, time.Now())
	require.NoError(t, err)
	kr, err := roots.Revoke(stmt)
	require.NoError(t, err)
	assert.Equal(t, signer.ID, kr.Kid)
	_, err = roots.Verify(file)
	assert.ErrorIs(t, err, license.ErrInvalid, "every file of a revoked key")
}

func jwkOf(pub *rsa.PublicKey) license.PublicJWK {
	j, _ := license.JWKOf(pub)
	return j
}

// BenchmarkVerifyThroughRoot is a verification through an endorsement, two
// RSA verifies, the endorsement checked afresh each time; against
// BenchmarkRawRSAVerify the goal is at most 2.3x.
func BenchmarkVerifyThroughRoot(b *testing.B) {
	signer, root := testkeys.Signer(b), testkeys.Root(b)
	file := endorsedFile(b, signer, endorse(b, root, signer.Public, sampleClaims().IssuedAt.Add(-time.Hour), time.Time{}))
	rs := testkeys.RootSet(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := license.NewRoots(rs).Verify(file); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyThroughRootRemembered is the same with the endorsement's
// check remembered, as an app does from its second check on; the goal is
// at most 1.2x BenchmarkRawRSAVerify.
func BenchmarkVerifyThroughRootRemembered(b *testing.B) {
	signer, root := testkeys.Signer(b), testkeys.Root(b)
	file := endorsedFile(b, signer, endorse(b, root, signer.Public, sampleClaims().IssuedAt.Add(-time.Hour), time.Time{}))
	roots := license.NewRoots(testkeys.RootSet(b))
	if _, err := roots.Verify(file); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := roots.Verify(file); err != nil {
			b.Fatal(err)
		}
	}
}
