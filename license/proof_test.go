package license_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
)

const syncURL = "https://licensing.example.com/api/v1/licensing/sync"

func TestAProofChecksForItsRequestOnly(t *testing.T) {
	k, err := license.NewDeviceKey()
	require.NoError(t, err)
	proof, err := k.NewProof("POST", syncURL+"?x=1#frag", t0)
	require.NoError(t, err)
	p, err := license.ParseProof(proof)
	require.NoError(t, err)
	assert.Equal(t, k.Thumbprint(), p.Key.Thumbprint)
	assert.Equal(t, syncURL, p.URL, "the query and fragment are left out of htu")
	require.NoError(t, p.Check("POST", syncURL+"?since=4", t0.Add(4*time.Minute), 5*time.Minute))
	require.NoError(t, p.Check("POST", "HTTPS://Licensing.Example.com:443/api/v1/licensing/sync", t0, 5*time.Minute), "scheme, host and default port are normalised")

	for name, check := range map[string]func() error{
		"another method": func() error { return p.Check("GET", syncURL, t0, 5*time.Minute) },
		"another path": func() error {
			return p.Check("POST", "https://licensing.example.com/api/v1/licensing/deactivate", t0, 5*time.Minute)
		},
		"another host": func() error {
			return p.Check("POST", "https://evil.example.com/api/v1/licensing/sync", t0, 5*time.Minute)
		},
		"plain http": func() error {
			return p.Check("POST", "http://licensing.example.com/api/v1/licensing/sync", t0, 5*time.Minute)
		},
		"too old":             func() error { return p.Check("POST", syncURL, t0.Add(6*time.Minute), 5*time.Minute) },
		"from the far future": func() error { return p.Check("POST", syncURL, t0.Add(-6*time.Minute), 5*time.Minute) },
	} {
		err := check()
		assert.ErrorIs(t, err, license.ErrInvalidProof, name)
	}
}

func TestThumbprintIsRFC7638(t *testing.T) {
	// RFC 7638 section 3.1 computes over the members in lexicographic order
	// without blank space; check ours against that recipe independently.
	k, err := license.NewDeviceKey()
	require.NoError(t, err)
	var jwk struct{ Crv, Kty, X, Y string }
	require.NoError(t, json.Unmarshal(k.PublicJWK(), &jwk))
	canon := `{"crv":"` + jwk.Crv + `","kty":"` + jwk.Kty + `","x":"` + jwk.X + `","y":"` + jwk.Y + `"}`
	sum := sha256.Sum256([]byte(canon))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), k.Thumbprint())
	assert.True(t, license.IsThumbprint(k.Thumbprint()))

	// The same key with its members in another order, and extra members,
	// has the same thumbprint.
	shuffled := `{"y":"` + jwk.Y + `","x":"` + jwk.X + `","use":"sig","kty":"EC","crv":"P-256"}`
	pub, err := license.ParseDevicePublicKey([]byte(shuffled))
	require.NoError(t, err)
	assert.Equal(t, k.Thumbprint(), pub.Thumbprint)
	assert.JSONEq(t, string(k.PublicJWK()), string(pub.JWK))
}

func TestADeviceKeySurvivesTheCache(t *testing.T) {
	k, err := license.NewDeviceKey()
	require.NoError(t, err)
	data, err := json.Marshal(k)
	require.NoError(t, err)
	back, err := license.ParseDeviceKey(data)
	require.NoError(t, err)
	assert.Equal(t, k.Thumbprint(), back.Thumbprint())
	proof, err := back.NewProof("GET", syncURL, t0)
	require.NoError(t, err)
	p, err := license.ParseProof(proof)
	require.NoError(t, err)
	assert.Equal(t, k.Thumbprint(), p.Key.Thumbprint)

	// A private key whose x and y are another key's is refused.
	other, _ := license.NewDeviceKey()
	var a, b map[string]string
	require.NoError(t, json.Unmarshal(data, &a))
	od, _ := json.Marshal(other)
	require.NoError(t, json.Unmarshal(od, &b))
	a["x"], a["y"] = b["x"], b["y"]
	mixed, _ := json.Marshal(a)
	_, err = license.ParseDeviceKey(mixed)
	assert.ErrorIs(t, err, license.ErrInvalidDeviceKey)
}

func TestBadPublicKeysAreRefused(t *testing.T) {
	k, _ := license.NewDeviceKey()
	var jwk map[string]string
	require.NoError(t, json.Unmarshal(k.PublicJWK(), &jwk))
	priv, _ := json.Marshal(k)
	with := func(name, v string) string {
		m := map[string]string{}
		for k, x := range jwk {
			m[k] = x
		}
		m[name] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	for name, in := range map[string]string{
		"private part":      string(priv),
		"RSA":               with("kty", "RSA"),
		"P-384":             with("crv", "P-384"),
		"short x":           with("x", "AAAA"),
		"padded x":          with("x", jwk["x"]+"="),
		"point off curve":   with("y", jwk["x"]),
		"folded name":       strings.Replace(string(k.PublicJWK()), `"kty"`, `"KTY"`, 1),
		"duplicate":         strings.Replace(string(k.PublicJWK()), `{`, `{"kty":"EC",`, 1),
		"not an object":     `"EC"`,
		"x of wrong type":   strings.Replace(string(k.PublicJWK()), `"x":"`+jwk["x"]+`"`, `"x":1`, 1),
		"empty":             ``,
		"huge":              `{"kty":"EC","pad":"` + strings.Repeat("a", 4000) + `"}`,
		"no y":              `{"kty":"EC","crv":"P-256","x":"` + jwk["x"] + `"}`,
		"standard base64 x": with("x", base64.StdEncoding.EncodeToString(make([]byte, 32))),
	} {
		_, err := license.ParseDevicePublicKey([]byte(in))
		assert.ErrorIs(t, err, license.ErrInvalidDeviceKey, name)
	}
}

// forgeProof builds a proof from parts, signed with priv (ES256) unless
// sig is given.
func forgeProof(t *testing.T, priv *ecdsa.PrivateKey, header, claims string, sig []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	if sig == nil {
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		require.NoError(t, err)
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return input + "." + enc.EncodeToString(sig)
}

func TestEveryForgedProofIsRefused(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	pb, _ := priv.PublicKey.Bytes()
	enc := base64.RawURLEncoding
	jwk := `{"crv":"P-256","kty":"EC","x":"` + enc.EncodeToString(pb[1:33]) + `","y":"` + enc.EncodeToString(pb[33:]) + `"}`
	other, _ := license.NewDeviceKey()
	iat := t0.Unix()
	claims := func(extra string) string {
		return `{"jti":"0123456789abcdef0123","htm":"POST","htu":"` + syncURL + `","iat":` + itoa(iat) + extra + `}`
	}
	header := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwk + `}`

	good := forgeProof(t, priv, header, claims(""), nil)
	_, err = license.ParseProof(good)
	require.NoError(t, err, "the forging helper makes a good proof")

	parts := strings.Split(good, ".")
	flipped := []byte(parts[2])
	flipped[3] ^= 1
	for name, proof := range map[string]string{
		"alg none":            forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"none","jwk":`+jwk+`}`, claims(""), []byte{}),
		"alg RS256":           forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"RS256","jwk":`+jwk+`}`, claims(""), nil),
		"typ jwt":             forgeProof(t, priv, `{"typ":"JWT","alg":"ES256","jwk":`+jwk+`}`, claims(""), nil),
		"no jwk":              forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"ES256"}`, claims(""), nil),
		"kid instead":         forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`,"kid":"x"}`, claims(""), nil),
		"jku":                 forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`,"jku":"https://x"}`, claims(""), nil),
		"duplicate alg":       forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":`+jwk+`}`, claims(""), nil),
		"another key signed":  forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+string(other.PublicJWK())+`}`, claims(""), nil),
		"flipped signature":   parts[0] + "." + parts[1] + "." + string(flipped),
		"ASN.1 signature":     forgeProof(t, priv, header, claims(""), make([]byte, 70)),
		"no jti":              forgeProof(t, priv, header, `{"htm":"POST","htu":"`+syncURL+`","iat":`+itoa(iat)+`}`, nil),
		"short jti":           forgeProof(t, priv, header, `{"jti":"x","htm":"POST","htu":"`+syncURL+`","iat":`+itoa(iat)+`}`, nil),
		"fractional iat":      forgeProof(t, priv, header, `{"jti":"0123456789abcdef0123","htm":"POST","htu":"`+syncURL+`","iat":1.5}`, nil),
		"string iat":          forgeProof(t, priv, header, `{"jti":"0123456789abcdef0123","htm":"POST","htu":"`+syncURL+`","iat":"1"}`, nil),
		"folded claim":        forgeProof(t, priv, header, claims(`,"HTM":"GET"`), nil),
		"duplicate htu":       forgeProof(t, priv, header, claims(`,"htu":"https://evil.example.com/"`), nil),
		"padded segment":      parts[0] + "=." + parts[1] + "." + parts[2],
		"two segments":        parts[0] + "." + parts[1],
		"too large":           strings.Repeat("a", license.MaxProofSize+1),
		"a license file":      signSample(t),
		"private key in jwk":  forgeProof(t, priv, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+privJWK(t, priv)+`}`, claims(""), nil),
		"payload not object":  forgeProof(t, priv, header, `[1]`, nil),
		"header not object":   forgeProof(t, priv, `"x"`, claims(""), nil),
		"non-ASCII jti":       forgeProof(t, priv, header, `{"jti":"0123456789abcdef012é","htm":"POST","htu":"`+syncURL+`","iat":`+itoa(iat)+`}`, nil),
		"non-ASCII member":    forgeProof(t, priv, header, claims(`,"htmſ":"x"`), nil),
		"empty":               "",
		"unsigned, two dots":  parts[0] + "." + parts[1] + ".",
		"negative iat":        forgeProof(t, priv, header, `{"jti":"0123456789abcdef0123","htm":"POST","htu":"`+syncURL+`","iat":-5}`, nil),
		"signature of zeroes": forgeProof(t, priv, header, claims(""), make([]byte, 64)),
	} {
		_, err := license.ParseProof(proof)
		assert.ErrorIs(t, err, license.ErrInvalidProof, name)
	}
	_ = testkeys.Set
}

func TestARememberedHeaderStillChecksEverySignature(t *testing.T) {
	k, _ := license.NewDeviceKey()
	pp := license.NewProofParser(10)
	good, err := k.NewProof("POST", syncURL, t0)
	require.NoError(t, err)
	_, err = pp.Parse(good)
	require.NoError(t, err)
	parts := strings.Split(good, ".")
	other, _ := k.NewProof("GET", syncURL, t0)
	otherParts := strings.Split(other, ".")
	// The remembered header with another proof's claims: a signature that
	// does not cover them.
	_, err = pp.Parse(parts[0] + "." + otherParts[1] + "." + parts[2])
	assert.ErrorIs(t, err, license.ErrInvalidProof)
	_, err = pp.Parse(parts[0] + "." + parts[1] + "." + strings.Repeat("A", 86))
	assert.ErrorIs(t, err, license.ErrInvalidProof)
	p, err := pp.Parse(other)
	require.NoError(t, err)
	assert.Equal(t, "GET", p.Method)
}

func privJWK(t *testing.T, priv *ecdsa.PrivateKey) string {
	d, err := priv.Bytes()
	require.NoError(t, err)
	pb, _ := priv.PublicKey.Bytes()
	enc := base64.RawURLEncoding
	return `{"crv":"P-256","d":"` + enc.EncodeToString(d) + `","kty":"EC","x":"` + enc.EncodeToString(pb[1:33]) + `","y":"` + enc.EncodeToString(pb[33:]) + `"}`
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestCnfIsSignedAndRead(t *testing.T) {
	k, _ := license.NewDeviceKey()
	c := sampleClaims()
	c.DeviceID, c.DeviceFingerprintSHA256 = "laptop-7", license.FingerprintHash("fp")
	c.DeviceKeyThumbprint = k.Thumbprint()
	signer := testkeys.Signer(t)
	tok, err := license.Sign(signer.Signer(), signer.ID, c)
	require.NoError(t, err)
	got, err := license.Verify([]byte(tok), testkeys.Set(t))
	require.NoError(t, err)
	assert.Equal(t, k.Thumbprint(), got.Claims.DeviceKeyThumbprint)
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	assert.Contains(t, string(payload), `"cnf":{"jkt":"`+k.Thumbprint()+`"}`, "RFC 7800's shape")

	// Bad cnf values make the file invalid rather than unbound.
	for name, mutate := range map[string]func(m map[string]any){
		"cnf without jkt":      func(m map[string]any) { m["cnf"] = map[string]any{"jwk": map[string]any{}} },
		"jkt not a thumbprint": func(m map[string]any) { m["cnf"] = map[string]any{"jkt": "abc"} },
		"cnf a string":         func(m map[string]any) { m["cnf"] = "x" },
		"cnf on a file bound to no device": func(m map[string]any) {
			delete(m, "device_id")
			delete(m, "device_fingerprint_sha256")
		},
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal(payload, &m))
		mutate(m)
		body, _ := json.Marshal(m)
		forged, err := license.SignJSON(signer.Signer(), signer.ID, license.Type, json.RawMessage(body))
		require.NoError(t, err)
		_, err = license.Verify([]byte(forged), testkeys.Set(t))
		assert.True(t, errors.Is(err, license.ErrInvalid), "%s: %v", name, err)
	}
}

func TestARequestCarriesTheDeviceKey(t *testing.T) {
	k, _ := license.NewDeviceKey()
	req, err := license.NewRequest("FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "laptop-7", "machine-fp", "linux/amd64", "1.2.3", t0)
	require.NoError(t, err)
	req.DevicePublicKey = k.PublicJWK()
	enc, err := req.Encode()
	require.NoError(t, err)
	back, err := license.ParseRequest(enc)
	require.NoError(t, err)
	require.NotNil(t, back.DeviceKey())
	assert.Equal(t, k.Thumbprint(), back.DeviceKey().Thumbprint)

	priv, _ := json.Marshal(k)
	req.DevicePublicKey = priv
	enc, err = req.Encode()
	require.NoError(t, err)
	_, err = license.ParseRequest(enc)
	assert.ErrorIs(t, err, license.ErrInvalidRequest, "a request must never carry the private key")
}
