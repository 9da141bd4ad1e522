package license

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ProofType is the typ of a DPoP proof (RFC 9449).
const ProofType = "dpop+jwt"

// ProofAlg is the only signature algorithm a proof may use.
const ProofAlg = "ES256"

// MaxProofSize bounds a DPoP header; real proofs are about 500 bytes.
const MaxProofSize = 4096

// ErrInvalidProof is wrapped by every error about a DPoP proof that is
// malformed, badly signed, or made for another request or time.
var ErrInvalidProof = errors.New("invalid DPoP proof")

func badProof(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidProof}, args...)...)
}

// Proof is a DPoP proof whose signature checked out against the key it
// carries. Whether that key is the device's, and whether the proof is for
// this request and fresh, are Check's and the server's to say.
type Proof struct {
	Key      *DevicePublicKey // the key in its header; Key.Thumbprint names it
	ID       string           // jti
	Method   string           // htm
	URL      string           // htu
	IssuedAt time.Time        // iat
}

// NewProof makes a DPoP proof for one request: its method and URL (any
// query is left out, as RFC 9449 says) at now, with a fresh random jti.
func (k *DeviceKey) NewProof(method, rawURL string, now time.Time) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("new proof: %w", err)
	}
	htu, err := ProofURL(rawURL)
	if err != nil {
		return "", err
	}
	header := `{"alg":"ES256","jwk":` + string(k.pub) + `,"typ":"dpop+jwt"}`
	claims, err := json.Marshal(struct {
		JTI string `json:"jti"`
		HTM string `json:"htm"`
		HTU string `json:"htu"`
		IAT int64  `json:"iat"`
	}{b64.EncodeToString(id[:]), method, htu, now.Unix()})
	if err != nil {
		return "", fmt.Errorf("new proof: %w", err)
	}
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, sum[:])
	if err != nil {
		return "", fmt.Errorf("new proof: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

// ProofURL is a URL as a proof's htu names it and as the server compares
// it: scheme and host in lowercase, no default port, no query, no
// fragment, an empty path as "/".
func ProofURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS") || u.User != nil {
		return "", badProof("htu %q is not an http(s) URL", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

var proofHeaderMembers = map[string]jsonKind{"alg": kindString, "typ": kindString, "jwk": kindObject}

// proofClaimKinds are the claims a proof must carry; ath and nonce, which
// RFC 9449 defines for other uses, are allowed and ignored.
var proofClaimKinds = map[string]jsonKind{"jti": kindString, "htm": kindString, "htu": kindString, "iat": kindNumber}

// ParseProof reads a DPoP proof (the DPoP header's value) and checks its
// form and its signature against the public key in its header: typ
// dpop+jwt, alg ES256, a P-256 jwk with no private part, no other header
// member, the claims jti, htm, htu and iat, and the same strict JSON and
// base64url rules as a license file.
func ParseProof(s string) (*Proof, error) { return parseProof(s, nil) }

// ProofParser is ParseProof with a memory of the headers it has read: a
// device sends the same header (its key) with every proof, and reading it
// (strict JSON twice, the point checked on the curve, the thumbprint) is
// most of what a proof costs besides its signature (docs/benchmarks.md). Only the header is remembered; every proof's
// claims and signature are checked every time, so replay protection is
// untouched. Safe for concurrent use.
type ProofParser struct {
	mu      sync.Mutex
	headers map[string]*DevicePublicKey // by the header's base64url
	max     int
}

// NewProofParser remembers up to size headers (it forgets them all when
// full: a miss costs only the parse).
func NewProofParser(size int) *ProofParser {
	return &ProofParser{headers: make(map[string]*DevicePublicKey), max: size}
}

// Parse is ParseProof.
func (pp *ProofParser) Parse(s string) (*Proof, error) { return parseProof(s, pp) }

func (pp *ProofParser) get(h64 string) *DevicePublicKey {
	if pp == nil {
		return nil
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.headers[h64]
}

func (pp *ProofParser) put(h64 string, k *DevicePublicKey) {
	if pp == nil || len(h64) > 512 {
		return
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.headers) >= pp.max {
		clear(pp.headers)
	}
	pp.headers[h64] = k
}

func parseProof(s string, pp *ProofParser) (*Proof, error) {
	if len(s) > MaxProofSize {
		return nil, badProof("%d bytes, more than %d", len(s), MaxProofSize)
	}
	if n := strings.Count(s, "."); n != 2 {
		return nil, badProof("a JWS compact serialization has 3 segments, this has %d", n+1)
	}
	h64, rest, _ := strings.Cut(s, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	key := pp.get(h64)
	remember := key == nil
	if key == nil {
		var err error
		if key, err = parseProofHeader(h64); err != nil {
			return nil, err
		}
	}
	payload, err := decodeSegment("payload", p64)
	if err != nil {
		return nil, badProof("%v", err)
	}
	members, err := checkObject(payload)
	if err != nil {
		return nil, badProof("claims: %v", err)
	}
	if err := exactMembers("claims", members, proofClaimKinds, false); err != nil {
		return nil, err
	}
	var c struct {
		JTI string `json:"jti"`
		HTM string `json:"htm"`
		HTU string `json:"htu"`
		IAT int64  `json:"iat"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, badProof("claims: iat must be whole seconds (%v)", err)
	}
	switch {
	case len(c.JTI) < 16 || len(c.JTI) > 128:
		return nil, badProof("jti must be 16 to 128 characters, to be unique")
	case c.HTM == "" || len(c.HTM) > 16:
		return nil, badProof("htm must name an HTTP method")
	case c.IAT <= 0 || c.IAT > 1<<40:
		return nil, badProof("iat %d is not a time", c.IAT)
	}
	for i := 0; i < len(c.JTI); i++ {
		if c.JTI[i] < 0x21 || c.JTI[i] > 0x7e {
			return nil, badProof("jti must be printable ASCII")
		}
	}
	if err := verifyES256(key, s[:len(h64)+1+len(p64)], s64, badProof); err != nil {
		return nil, err
	}
	if remember {
		// Only a header whose key signed a proof is remembered: junk
		// headers cannot push a device's out.
		pp.put(h64, key)
	}
	return &Proof{Key: key, ID: c.JTI, Method: c.HTM, URL: c.HTU, IssuedAt: time.Unix(c.IAT, 0).UTC()}, nil
}

// exactMembers checks the kinds of the required members, and with only,
// that there is no other; either way a name that is one of them with its
// case changed is refused, as encoding/json would read it as that one.
func exactMembers(what string, members, want map[string]jsonKind, only bool) error {
	for name, kind := range want {
		if got, ok := members[name]; !ok || got != kind {
			return badProof("%s: %q must be a %s", what, name, kind)
		}
	}
	for name := range members {
		if _, ok := want[name]; ok {
			continue
		}
		if only {
			return badProof("%s carries %q; a proof's header has only typ, alg and jwk", what, name)
		}
		if _, ok := want[strings.ToLower(name)]; ok {
			return badProof("%s: %q is not %q: names are lowercase", what, name, strings.ToLower(name))
		}
	}
	return nil
}

// Check says whether the proof is for this request (method, URL without
// query) and was made within window of now, either way. Replay is the
// server's to refuse: it remembers each jti until its iat falls out of the
// window.
func (p *Proof) Check(method, rawURL string, now time.Time, window time.Duration) error {
	if p.Method != method {
		return badProof("made for %s, and this request is %s", p.Method, method)
	}
	want, err := ProofURL(rawURL)
	if err != nil {
		return err
	}
	got, err := ProofURL(p.URL)
	if err != nil || got != want {
		return badProof("made for %q, and this request is for %q", p.URL, want)
	}
	if d := now.Sub(p.IssuedAt); d > window || d < -window {
		return badProof("made at %s, more than %s from the server's time %s: check the device's clock", FormatTime(p.IssuedAt), window, FormatTime(now))
	}
	return nil
}

// parseProofHeader reads a proof's header: typ, alg and the device's key.
func parseProofHeader(h64 string) (*DevicePublicKey, error) {
	return keyHeader(h64, ProofType, badProof)
}

// keyHeader reads the header of a JWS a device key signed (a proof, a
// sync request, a deactivation receipt): exactly alg ES256, the given typ
// and the key as jwk; bad makes the caller's kind of error.
func keyHeader(h64, typ string, bad func(string, ...any) error) (*DevicePublicKey, error) {
	hj, err := decodeSegment("header", h64)
	if err != nil {
		return nil, bad("%v", err)
	}
	members, err := checkObject(hj)
	if err != nil {
		return nil, bad("header: %v", err)
	}
	for name, kind := range members {
		want, ok := proofHeaderMembers[name]
		if !ok {
			return nil, bad("header carries %q; a device's header has only typ, alg and jwk", name)
		}
		if kind != want {
			return nil, bad("header: %q must be a %s", name, want)
		}
	}
	for name, kind := range proofHeaderMembers {
		if _, ok := members[name]; !ok {
			return nil, bad("header: %q must be a %s", name, kind)
		}
	}
	var h struct {
		Alg string          `json:"alg"`
		Typ string          `json:"typ"`
		JWK json.RawMessage `json:"jwk"`
	}
	if err := json.Unmarshal(hj, &h); err != nil {
		return nil, bad("header: %v", err)
	}
	if h.Typ != typ || h.Alg != ProofAlg {
		return nil, bad("header is typ %q alg %q, want %q and %s", h.Typ, h.Alg, typ, ProofAlg)
	}
	key, err := ParseDevicePublicKey(h.JWK)
	if err != nil {
		return nil, bad("jwk: %v", err)
	}
	return key, nil
}

// verifyES256 checks an ES256 signature (r || s, 64 bytes, base64url in
// s64) over input with key.
func verifyES256(key *DevicePublicKey, input, s64 string, bad func(string, ...any) error) error {
	sig, err := decodeSegment("signature", s64)
	if err != nil {
		return bad("%v", err)
	}
	if len(sig) != 64 {
		return bad("an ES256 signature is 64 bytes, this is %d", len(sig))
	}
	sum := sha256.Sum256([]byte(input))
	if !ecdsa.Verify(key.Key, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return bad("bad signature")
	}
	return nil
}
