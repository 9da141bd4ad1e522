package keys_test

import (
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
)

func TestGenerateRefusesWeakOrAbsurdSizes(t *testing.T) {
	for _, bits := range []int{512, 1024, 2047, 16384} {
		_, err := keys.Generate(bits)
		assert.Error(t, err, "%d bits", bits)
	}
}

func TestThumbprintMatchesRFC7638(t *testing.T) {
	// The example key of RFC 7638, section 3.1, and its published thumbprint.
	var jwk struct{ N, E string }
	require.NoError(t, json.Unmarshal([]byte(`{"n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}`), &jwk))
	set, err := keys.ParseJWKS([]byte(`{"keys":[{"kty":"RSA","n":"` + jwk.N + `","e":"` + jwk.E + `"}]}`))
	require.NoError(t, err)
	require.Equal(t, 1, set.Len())
	assert.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", set.Keys()[0].ID)
}

func TestKeyDirectoryStoresPrivateKeysOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k := testkeys.Signer(t)
	written, err := keys.WritePrivateKey(dir, k.Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	assert.Equal(t, k.ID, written.ID)

	path := filepath.Join(dir, k.ID+".pem")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM")
	if runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		dinfo, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), dinfo.Mode().Perm())
	}

	set, err := keys.LoadDir(dir)
	require.NoError(t, err)
	active, err := set.Active()
	require.NoError(t, err)
	assert.Equal(t, k.ID, active.ID)
	assert.True(t, active.CanSign())
}

func TestLoadRefusesAKeyOthersCanRead(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not apply on Windows")
	}
	dir := t.TempDir()
	_, err := keys.WritePrivateKey(dir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	path := filepath.Join(dir, testkeys.Signer(t).ID+".pem")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		require.NoError(t, os.Chmod(path, mode))
		_, err = keys.LoadDir(dir)
		require.Error(t, err, "mode %o", mode)
		assert.Contains(t, err.Error(), "chmod 600")
	}
}

func TestRotationKeepsOldKeysVerifyOnly(t *testing.T) {
	dir := t.TempDir()
	first, err := keys.WritePrivateKey(dir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	second, err := keys.WritePrivateKey(dir, testkeys.Attacker(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)

	set, err := keys.LoadDir(dir)
	require.NoError(t, err)
	active, err := set.Active()
	require.NoError(t, err)
	assert.Equal(t, second.ID, active.ID, "the newest key signs")
	_, ok := set.Lookup(first.ID)
	assert.True(t, ok, "the older key still verifies")
	assert.Equal(t, 2, set.Len())
	assert.Equal(t, second.ID, set.Keys()[0].ID, "the active key comes first in the JWKS")
}

func TestLoadDirSaysWhatIsWrong(t *testing.T) {
	k := testkeys.Signer(t)
	priv := k.Signer().(*rsa.PrivateKey)
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"an empty directory", func(t *testing.T, dir string) {}, "licensectl keys generate"},
		{"not PEM", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "x.pem"), []byte("hello"), 0o600))
		}, "not a PEM file"},
		{"a PKCS#1 key", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "x.pem"), []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"), 0o600))
		}, "PKCS#8"},
		{"an active file naming a missing key", func(t *testing.T, dir string) {
			_, err := keys.WritePrivateKey(dir, priv)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, keys.ActiveFile), []byte("nope"), 0o600))
		}, `names key "nope"`},
		{"two keys and no active file", func(t *testing.T, dir string) {
			_, err := keys.WritePrivateKey(dir, priv)
			require.NoError(t, err)
			_, err = keys.WritePrivateKey(dir, testkeys.Attacker(t).Signer().(*rsa.PrivateKey))
			require.NoError(t, err)
			require.NoError(t, os.Remove(filepath.Join(dir, keys.ActiveFile)))
		}, "no \"active\" file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, err := keys.LoadDir(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestJWKSRoundTripsAndHoldsNoSecrets(t *testing.T) {
	set, err := keys.NewSet(testkeys.Signer(t), testkeys.Attacker(t))
	require.NoError(t, err)
	js, err := set.JWKS()
	require.NoError(t, err)
	for _, secret := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
		assert.NotContains(t, string(js), secret+":")
	}
	back, err := keys.ParseJWKS(js)
	require.NoError(t, err)
	assert.Equal(t, 2, back.Len())
	for _, k := range set.Keys() {
		pub, ok := back.Lookup(k.ID)
		require.True(t, ok)
		assert.True(t, pub.Equal(k.Public))
	}
	_, err = back.Active()
	assert.ErrorIs(t, err, keys.ErrNoSigner, "a JWKS never signs")
}

func TestParseJWKSRefusesBadSets(t *testing.T) {
	set, err := keys.NewSet(testkeys.Signer(t))
	require.NoError(t, err)
	js, err := set.JWKS()
	require.NoError(t, err)
	good := string(js)
	kid := testkeys.Signer(t).ID
	cases := []struct{ name, jwks, want string }{
		{"no keys", `{"keys":[]}`, "no keys"},
		{"not JSON", `hello`, "parse jwks"},
		{"a kid that is not the thumbprint", strings.Replace(good, kid, "other-kid", 1), "thumbprint"},
		{"another alg", strings.Replace(good, `"RS256"`, `"RS512"`, 1), "want RS256"},
		{"encryption use", strings.Replace(good, `"sig"`, `"enc"`, 1), "want sig"},
		{"an EC key", `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`, "want RSA"},
		{"a 1024-bit key", `{"keys":[{"kty":"RSA","n":"w` + strings.Repeat("A", 170) + `","e":"AQAB"}]}`, "too small"},
		{"a modulus with a leading zero byte", `{"keys":[{"kty":"RSA","n":"` + strings.Repeat("A", 171) + `Q","e":"AQAB"}]}`, "leading zero"},
		{"data after the set", good + `{"keys":[]}`, "after"},
		{"too large", `{"keys":[` + strings.Repeat(" ", 1<<20) + `]}`, "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.ParseJWKS([]byte(tc.jwks))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadOrGenerateMakesAKeyOnlyWhenThereIsNone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k")
	set, created, err := keys.LoadOrGenerate(dir, keys.MinBits)
	require.NoError(t, err)
	require.NotNil(t, created)
	assert.Equal(t, 1, set.Len())
	again, created2, err := keys.LoadOrGenerate(dir, keys.MinBits)
	require.NoError(t, err)
	assert.Nil(t, created2, "a second start loads the same key")
	a, _ := set.Active()
	b, _ := again.Active()
	assert.Equal(t, a.ID, b.ID)
}
