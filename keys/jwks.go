package keys

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// maxJWKSSize bounds what ParseJWKS reads: a set of a few dozen 8192-bit
// keys is far below it.
const maxJWKSSize = 1 << 20

// jwkMembers are the JWK members a verifier reads. A member that equals one
// of them only when case is folded ("E", "Kty") is refused: Go's
// encoding/json would read it as the member, a JavaScript verifier would not.
var jwkMembers = []string{"kty", "n", "e", "kid", "alg", "use", "key_ops"}

// privateMembers carry private key material, which a published set must not.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseJWKS reads a public JSON Web Key Set into a verify-only Set. The rules
// are the same in the JavaScript package, so that both accept exactly the
// same sets:
//
//   - one JSON object and nothing after it, no member name twice at any
//     depth, every member name ASCII and none a case variant of a JWK member;
//   - every key RSA, public only, n and e in canonical unpadded base64url
//     without leading zero bytes, 2048 to 8192 bits, e odd and from 3 to
//     2^31-1 (with e = 1 or 2 anyone could forge files);
//   - alg, when present, RS256; use, when present, "sig"; key_ops, when
//     present, a list that includes "verify";
//   - kid, when present, the key's own RFC 7638 thumbprint, so that a kid
//     always names exactly one key.
func ParseJWKS(data []byte) (*Set, error) {
	if len(data) > maxJWKSSize {
		return nil, fmt.Errorf("parse jwks: %d bytes is over the %d byte limit", len(data), maxJWKSSize)
	}
	if err := checkJSON(data); err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	for name := range raw {
		if name != "keys" && strings.EqualFold(name, "keys") {
			return nil, fmt.Errorf("parse jwks: member %q is not \"keys\"", name)
		}
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw["keys"], &list); err != nil || len(list) == 0 {
		return nil, errors.New("parse jwks: no keys")
	}
	s := &Set{byID: make(map[string]*Key)}
	for i, rk := range list {
		k, err := parseJWK(rk)
		if err != nil {
			return nil, fmt.Errorf("parse jwks: key %d: %w", i, err)
		}
		s.add(k)
	}
	return s, nil
}

func parseJWK(data []byte) (*Key, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, errors.New("not a JSON object")
	}
	for name := range m {
		for _, known := range jwkMembers {
			if name != known && strings.EqualFold(name, known) {
				return nil, fmt.Errorf("member %q is not %q", name, known)
			}
		}
	}
	for _, p := range privateMembers {
		if _, ok := m[p]; ok {
			return nil, errors.New("holds private key material; publish only public keys")
		}
	}
	str := func(name string) (string, bool, error) {
		v, ok := m[name]
		if !ok {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", true, fmt.Errorf("%s is not a string", name)
		}
		return s, true, nil
	}
	kty, _, err := str("kty")
	if err != nil {
		return nil, err
	}
	if kty != "RSA" {
		return nil, fmt.Errorf("kty %q, want RSA", kty)
	}
	if alg, ok, err := str("alg"); err != nil {
		return nil, err
	} else if ok && alg != "RS256" {
		return nil, fmt.Errorf("alg %q, want RS256", alg)
	}
	if use, ok, err := str("use"); err != nil {
		return nil, err
	} else if ok && use != "sig" {
		return nil, fmt.Errorf("use %q, want sig", use)
	}
	if v, ok := m["key_ops"]; ok {
		var ops []string
		if err := json.Unmarshal(v, &ops); err != nil {
			return nil, errors.New("key_ops is not a list of strings")
		}
		verify := false
		for _, op := range ops {
			verify = verify || op == "verify"
		}
		if !verify {
			return nil, fmt.Errorf("key_ops %q does not allow verify", ops)
		}
	}
	n, err := uintMember(m, "n")
	if err != nil {
		return nil, err
	}
	e, err := uintMember(m, "e")
	if err != nil {
		return nil, err
	}
	if !e.IsInt64() || e.Int64() > 1<<31-1 {
		return nil, errors.New("public exponent e is too large")
	}
	k, err := NewPublicKey(&rsa.PublicKey{N: n, E: int(e.Int64())})
	if err != nil {
		return nil, err
	}
	if kid, ok, err := str("kid"); err != nil {
		return nil, err
	} else if ok && kid != k.ID {
		return nil, fmt.Errorf("kid %q is not the key's thumbprint %q", kid, k.ID)
	}
	return k, nil
}

// uintMember decodes a Base64urlUInt (RFC 7518, section 2): canonical
// unpadded base64url of the big-endian value without leading zero bytes,
// so that one key has one encoding and one thumbprint.
func uintMember(m map[string]json.RawMessage, name string) (*big.Int, error) {
	v, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("no %s", name)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("%s is not a string", name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("%s is not canonical unpadded base64url", name)
	}
	if len(b) == 0 || b[0] == 0 {
		return nil, fmt.Errorf("%s is empty or has leading zero bytes", name)
	}
	return new(big.Int).SetBytes(b), nil
}

// checkJSON refuses what the two verifiers could read differently: data
// after the value, a member name twice in one object (compared after
// unescaping), and member names that are not ASCII.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		names  map[string]bool
		key    bool // the next token in this object is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					break
				}
				continue
			}
			name := tok.(string)
			for i := 0; i < len(name); i++ {
				if name[i] >= 0x80 {
					return fmt.Errorf("member name %q is not ASCII", name)
				}
			}
			if top.names[name] {
				return fmt.Errorf("duplicate member name %q", name)
			}
			top.names[name] = true
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true // this token is the member's value
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, names: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			break
		}
	}
	// The top-level value ended: anything after it is refused.
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}
