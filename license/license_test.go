package license_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/forge"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func sampleClaims() *license.Claims {
	return &license.Claims{
		Issuer: license.Issuer, Audience: license.Audience,
		SubscriptionID: "0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10", ID: "5f0e8c1d-3a1b-4c7e-8f9a-0d1e2f3a4b5c",
		IssuedAt: t0, NotBefore: t0, Expiry: t0.Add(379 * license.Day), LicenseVersion: 1,
		CustomerID: "1b4e28ba-2fa1-11d2-883f-0016d3cca427", TenantID: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
		Tier: license.TierProfessional, Features: []string{"export", "sync"}, MaxDevices: 3,
		StartsAt: t0, ExpiresAt: t0.Add(365 * license.Day), GracePeriodDays: 14,
		CheckInDays: 7, MaxOfflineDays: 30,
	}
}

func signSample(t testing.TB) string {
	t.Helper()
	k := testkeys.Signer(t)
	tok, err := license.Sign(k.Signer(), k.ID, sampleClaims())
	require.NoError(t, err)
	return tok
}

func TestSignedFileRoundTrips(t *testing.T) {
	tok := signSample(t)
	got, err := license.Verify(license.Armor(tok), testkeys.Set(t))
	require.NoError(t, err)
	want := sampleClaims()
	assert.Equal(t, want, got.Claims)
	assert.Equal(t, testkeys.Signer(t).ID, got.Header.Kid)
	assert.Equal(t, tok, got.Compact)
}

func TestHeaderIsExactlyTheContracts(t *testing.T) {
	tok, err := license.Parse([]byte(signSample(t)))
	require.NoError(t, err)
	hdr, _, _ := strings.Cut(tok.Compact, ".")
	raw, err := jsonSegment(hdr)
	require.NoError(t, err)
	assert.JSONEq(t, `{"alg":"RS256","kid":"`+testkeys.Signer(t).ID+`","typ":"flowlytix-license+jwt"}`, string(raw))
}

func TestReadersAcceptEveryLayout(t *testing.T) {
	tok := signSample(t)
	armored := string(license.Armor(tok))
	lines := strings.Split(strings.TrimSpace(armored), "\n")
	for _, l := range lines {
		require.LessOrEqual(t, len(l), 64, "armored lines are folded at 64")
	}
	cases := []struct {
		name, file string
	}{
		{"armored as written", armored},
		{"CRLF line ends", strings.ReplaceAll(armored, "\n", "\r\n")},
		{"blank space around", "\n\n  \t" + armored + "\n\n   "},
		{"an unfolded body", license.BeginLine + "\n" + tok + "\n" + license.EndLine},
		{"a bare compact string", tok},
		{"a bare string with a trailing newline", tok + "\n"},
		{"a UTF-8 byte order mark", "\xef\xbb\xbf" + armored},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := license.Verify([]byte(tc.file), testkeys.Set(t))
			require.NoError(t, err)
			assert.Equal(t, tok, got.Compact)
		})
	}
}

func TestEveryForgeryIsInvalid(t *testing.T) {
	cases, err := forge.All(testkeys.Signer(t), testkeys.Attacker(t), sampleClaims())
	require.NoError(t, err)
	require.Greater(t, len(cases), 40)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			tok, err := license.Verify(tc.File, testkeys.Set(t))
			if tc.Name == "wrong_aud" {
				// Another product's audience is a well-formed file: the
				// verifier told which product the app is refuses it
				// (clientlib.VerifyOptions.Product, the product vectors).
				require.NoError(t, err)
				assert.Equal(t, "other-app", tok.Claims.Audience)
				return
			}
			require.Error(t, err, tc.Why)
			assert.True(t, errors.Is(err, license.ErrInvalid), "got %v, want it to wrap ErrInvalid", err)
		})
	}
}

func TestSpecificRefusalsSayWhy(t *testing.T) {
	cases, err := forge.All(testkeys.Signer(t), testkeys.Attacker(t), sampleClaims())
	require.NoError(t, err)
	want := map[string]string{
		"alg_none_unsigned":        "only RS256",
		"hs256_public_key_pem":     "only RS256",
		"alg_ps256_real_key":       "only RS256",
		"unknown_kid":              "unknown key",
		"header_jku":               `"jku"`,
		"header_x5c":               `"x5c"`,
		"header_crit":              `"crit"`,
		"header_b64":               `"b64"`,
		"header_jwk":               `"jwk"`,
		"duplicate_header_alg":     "duplicate member",
		"duplicate_claim":          "duplicate member",
		"missing_exp":              `missing "exp"`,
		"missing_nbf":              `missing "nbf"`,
		"padded_base64":            "base64url",
		"standard_base64_alphabet": "base64url",
		"five_segments":            "3 segments",
		"tampered_payload":         "bad signature",
		"zero_signature":           "bad signature",
		"empty_signature":          "empty signature",
		"wrong_typ":                "typ",
		"wrong_iss":                "iss",
		"aud_array":                `"aud" is a array`,
		"entitlement_fraction":     "a number must be a whole number",
		"entitlement_exponent":     "a number must be a whole number",
		"entitlement_beyond_2_53":  "a number must be a whole number",
		"entitlement_duplicate":    "duplicate member",
		"entitlement_null":         "want a whole number, true, false or a short string",
		"entitlements_array":       `"entitlements" is a array`,
		"entitlement_long_string":  "at most 128",
	}
	for _, tc := range cases {
		sub, ok := want[tc.Name]
		if !ok {
			continue
		}
		delete(want, tc.Name)
		t.Run(tc.Name, func(t *testing.T) {
			_, err := license.Verify(tc.File, testkeys.Set(t))
			require.Error(t, err)
			assert.Contains(t, err.Error(), sub)
		})
	}
	assert.Empty(t, want, "forge no longer makes these cases")
}

func TestAHugeFileIsRefusedBeforeDecoding(t *testing.T) {
	tok := signSample(t)
	huge := bytes.Repeat([]byte(tok+"\n"), (3<<20)/len(tok))
	require.Greater(t, len(huge), 3<<20-len(tok)-1)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := license.Parse(huge)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, license.ErrInvalid)
	assert.Contains(t, err.Error(), "more than")
	// Refused by its length alone: no copy of the 3 MiB input was made.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10), "bytes allocated while refusing a 3 MiB file")
}

func TestAStandardJWTVerifierAgrees(t *testing.T) {
	// exp is expires_at plus grace, so any standard JWT library refuses a
	// file past its grace. golang-jwt stands in for "any".
	tok := signSample(t)
	k := testkeys.Signer(t)
	keyFunc := func(*jwt.Token) (any, error) { return k.Public, nil }
	parse := func(at time.Time) error {
		_, err := jwt.Parse(tok, keyFunc,
			jwt.WithValidMethods([]string{"RS256"}),
			jwt.WithIssuer(license.Issuer), jwt.WithAudience(license.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(func() time.Time { return at }))
		return err
	}
	assert.NoError(t, parse(t0.Add(24*time.Hour)), "inside the license")
	assert.NoError(t, parse(t0.Add(370*license.Day)), "inside the grace period")
	assert.ErrorIs(t, parse(t0.Add(380*license.Day)), jwt.ErrTokenExpired, "past expires_at plus grace")
	assert.ErrorIs(t, parse(t0.Add(-24*time.Hour)), jwt.ErrTokenNotValidYet, "before nbf")
}

func TestSignGoesThroughCryptoSigner(t *testing.T) {
	// A signer that is not an *rsa.PrivateKey, as a KMS or HSM would be.
	k := testkeys.Signer(t)
	hsm := &countingSigner{inner: k.Signer()}
	tok, err := license.Sign(hsm, k.ID, sampleClaims())
	require.NoError(t, err)
	assert.Equal(t, 1, hsm.calls)
	_, err = license.Verify([]byte(tok), testkeys.Set(t))
	assert.NoError(t, err)
}

type countingSigner struct {
	inner crypto.Signer
	calls int
}

func (s *countingSigner) Public() crypto.PublicKey { return s.inner.Public() }
func (s *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.calls++
	return s.inner.Sign(r, digest, opts)
}

func TestKeyRotationKeepsOldFilesVerifying(t *testing.T) {
	oldKey := testkeys.Signer(t)
	newKey := testkeys.Attacker(t) // any second key will do
	oldFile := signSample(t)
	newFile, err := license.Sign(newKey.Signer(), newKey.ID, sampleClaims())
	require.NoError(t, err)

	rotated, err := keys.NewSet(newKey, oldKey)
	require.NoError(t, err)
	_, err = license.Verify([]byte(oldFile), rotated)
	assert.NoError(t, err, "a file signed before the rotation")
	_, err = license.Verify([]byte(newFile), rotated)
	assert.NoError(t, err, "a file signed after it")

	onlyOld, err := keys.NewSet(oldKey)
	require.NoError(t, err)
	_, err = license.Verify([]byte(newFile), onlyOld)
	assert.ErrorIs(t, err, license.ErrInvalid, "an app that never received the new key")
}

func jsonSegment(s string) (json.RawMessage, error) {
	return base64.RawURLEncoding.DecodeString(s)
}

// rsaVerifyRaw is the raw operation the benchmarks compare against.
func rsaVerifyRaw(pub *rsa.PublicKey, input string, sig []byte) error {
	sum := sha256.Sum256([]byte(input))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

func rsaSignRaw(priv crypto.Signer, input string) ([]byte, error) {
	sum := sha256.Sum256([]byte(input))
	return priv.Sign(rand.Reader, sum[:], crypto.SHA256)
}

func TestSignedDocumentsRefuseMemberNamesThatFoldDifferently(t *testing.T) {
	k := testkeys.Signer(t)
	const typ = "flowlytix-revocations+jwt"
	for _, tc := range []struct {
		name, payload string
		ok            bool
	}{
		{"snake_case names", `{"revocations":[{"seq":1}],"revocation_cursor":1}`, true},
		{"a case variant beside the name", `{"revocations":[],"Revocations":[{"seq":1}]}`, false},
		{"a long s", `{"revocations":[],"revocation_ſursor":1}`, false},
		{"a nested case variant", `{"revocations":[{"seq":1,"SEQ":2}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jws, err := license.SignJSON(k.Signer(), k.ID, typ, json.RawMessage(tc.payload))
			require.NoError(t, err)
			_, err = license.VerifyJSON(jws, testkeys.Set(t), typ)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, license.ErrInvalid)
		})
	}
}

func TestEntitlementsAreReadAsWrittenOrRefused(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]any
		err  string
	}{
		{`{"projects":10,"sso":true,"region":"eu-west","offset":-3}`, map[string]any{"projects": int64(10), "sso": true, "region": "eu-west", "offset": int64(-3)}, ""},
		{`{"big":9007199254740991,"small":-9007199254740991}`, map[string]any{"big": int64(1<<53 - 1), "small": int64(-(1<<53 - 1))}, ""},
		{`{}`, map[string]any{}, ""},
		{`{"projects":10.0}`, nil, "whole number"},
		{`{"projects":-0.5}`, nil, "whole number"},
		{`{"projects":9007199254740992}`, nil, "whole number"},
		{`{"projects":01}`, nil, "not JSON"},
		{`{"projects":null}`, nil, "short string"},
		{`{"projects":[1]}`, nil, "short string"},
		{`{"Projects":1}`, nil, "not an entitlement name"},
		{`{"projects":1,"projects":2}`, nil, "duplicate member"},
		{`{"note":"a\u0007b"}`, nil, "control character"},
		{`{"n":-0}`, nil, "whole number"},
		{`{"note":"\ud800"}`, nil, "lone surrogate"},
		{`{"note":"\ufffd"}`, nil, "lone surrogate"},
		{`{"note":"\ud83d\ude00 ok"}`, map[string]any{"note": "\U0001F600 ok"}, ""},
		{`[1]`, nil, "object"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := license.ParseEntitlements([]byte(tc.in))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAnEntitledFileRoundTrips(t *testing.T) {
	ks := testkeys.Set(t)
	c := sampleClaims()
	c.Audience = "com.acme.editor"
	c.Entitlements = map[string]any{"projects": int64(10), "sso": true, "region": "eu"}
	active, err := ks.Active()
	require.NoError(t, err)
	compact, err := license.Sign(active.Signer(), active.ID, c)
	require.NoError(t, err)
	tok, err := license.Verify([]byte(compact), ks)
	require.NoError(t, err)
	assert.Equal(t, "com.acme.editor", tok.Claims.Audience)
	v, ok := tok.Claims.Entitlement("projects")
	assert.True(t, ok)
	assert.Equal(t, int64(10), v)
	_, ok = tok.Claims.Entitlement("seats")
	assert.False(t, ok)
}
