// Package forge builds forged and malformed license files: every attack a
// verifier must refuse. The license tests run each case, and vectorgen writes
// them into the shared test vectors so the JavaScript verifier faces the
// same ones. It is for tests only.
package forge

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// Case is one forged file and what it tries.
type Case struct {
	Name string
	Why  string
	File []byte
}

var b64 = base64.RawURLEncoding

// Sign signs arbitrary header and payload JSON with alg: RS256, RS512,
// PS256 (with an RSA signer), HS256 (with secret), or none.
func Sign(alg string, signer crypto.Signer, secret []byte, header, payload []byte) (string, error) {
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	var sig []byte
	var err error
	switch strings.ToUpper(alg) {
	case "RS256":
		sum := sha256.Sum256([]byte(input))
		sig, err = signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	case "RS512":
		sum := sha512.Sum512([]byte(input))
		sig, err = signer.Sign(rand.Reader, sum[:], crypto.SHA512)
	case "PS256":
		sum := sha256.Sum256([]byte(input))
		sig, err = signer.Sign(rand.Reader, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case "HS256":
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "NONE":
	default:
		return "", fmt.Errorf("forge: unknown alg %q", alg)
	}
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// header builds a header object in the given member order from pairs.
func header(pairs ...any) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(pairs[i])
		v, _ := json.Marshal(pairs[i+1])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// editClaims marshals c to a generic map, lets edit change it, and returns
// the JSON.
func editClaims(c *license.Claims, edit func(m map[string]any)) []byte {
	raw, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	edit(m)
	out, _ := json.Marshal(m)
	return out
}

// All returns every forgery of the valid claims c. real is the key the
// verifier trusts; attacker is a key it does not know. Cases that change
// only the header or claims are signed with the real key, so that the rule
// alone, not a bad signature, must refuse them.
func All(real, attacker *keys.Key, c *license.Claims) ([]Case, error) {
	rs := real.Signer()
	kid := real.ID
	good := header("alg", "RS256", "kid", kid, "typ", license.Type)
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	valid, err := Sign("RS256", rs, nil, good, payload)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(valid, ".")
	pubDER, err := x509.MarshalPKIXPublicKey(real.Public)
	if err != nil {
		return nil, err
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(real.Public)})
	attackerJWK, err := json.Marshal(jose.JSONWebKey{Key: attacker.Public, KeyID: attacker.ID, Algorithm: "RS256", Use: "sig"})
	if err != nil {
		return nil, err
	}

	var cases []Case
	var firstErr error
	add := func(name, why string, tok string, err error) {
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("forge %s: %w", name, err)
		}
		cases = append(cases, Case{Name: name, Why: why, File: license.Armor(tok)})
	}
	addRaw := func(name, why string, file []byte) {
		cases = append(cases, Case{Name: name, Why: why, File: file})
	}
	signWith := func(h []byte, p []byte) (string, error) { return Sign("RS256", rs, nil, h, p) }

	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		tok, err := Sign("none", nil, nil, header("alg", alg, "kid", kid, "typ", license.Type), payload)
		add("alg_"+alg+"_unsigned", "alg "+alg+" with an empty signature", tok, err)
	}
	add("alg_none_with_signature", "alg none carrying the real signature bytes",
		b64.EncodeToString(header("alg", "none", "kid", kid, "typ", license.Type))+"."+parts[1]+"."+parts[2], nil)
	for name, secret := range map[string][]byte{
		"hs256_public_key_pem":   pubPEM,
		"hs256_public_key_pkcs1": pkcs1PEM,
		"hs256_public_key_der":   pubDER,
		"hs256_public_key_n":     real.Public.N.Bytes(),
	} {
		tok, err := Sign("HS256", nil, secret, header("alg", "HS256", "kid", kid, "typ", license.Type), payload)
		add(name, "HMAC keyed with the public key, the classic algorithm confusion", tok, err)
	}
	for _, alg := range []string{"RS512", "PS256"} {
		tok, err := Sign(alg, rs, nil, header("alg", alg, "kid", kid, "typ", license.Type), payload)
		add("alg_"+strings.ToLower(alg)+"_real_key", alg+" correctly signed by the real key: only RS256 is accepted", tok, err)
	}
	tok, err := signWith(header("alg", "rs256", "kid", kid, "typ", license.Type), payload)
	add("alg_lowercase_rs256", "alg names are case-sensitive", tok, err)
	tok, err = Sign("RS256", attacker.Signer(), nil, header("alg", "RS256", "kid", attacker.ID, "typ", license.Type), payload)
	add("unknown_kid", "signed by a key the verifier does not know", tok, err)
	tok, err = Sign("RS256", attacker.Signer(), nil, good, payload)
	add("real_kid_attacker_signature", "names the real kid, signed by another key", tok, err)
	tok, err = signWith(header("alg", "RS256", "typ", license.Type), payload)
	add("missing_kid", "no kid in the header", tok, err)
	tok, err = signWith(header("alg", "RS256", "kid", "", "typ", license.Type), payload)
	add("empty_kid", "an empty kid", tok, err)
	tok, err = Sign("RS256", attacker.Signer(), nil, []byte(`{"alg":"RS256","kid":"`+attacker.ID+`","typ":"`+license.Type+`","jwk":`+string(attackerJWK)+`}`), payload)
	add("embedded_jwk_attacker", "carries the attacker's key in jwk and is signed by it", tok, err)
	for _, extra := range []struct {
		name  string
		value any
	}{
		{"jwk", json.RawMessage(attackerJWK)},
		{"jku", "https://attacker.example/jwks.json"},
		{"x5u", "https://attacker.example/cert.pem"},
		{"x5c", []string{b64.EncodeToString(pubDER)}},
		{"crit", []string{"exp"}},
		{"b64", false},
		{"cty", "JWT"},
	} {
		tok, err := signWith(header("alg", "RS256", "kid", kid, "typ", license.Type, extra.name, extra.value), payload)
		add("header_"+extra.name, "header member "+extra.name+", signed by the real key", tok, err)
	}
	tok, err = signWith(header("alg", "RS256", "kid", kid, "typ", "JWT"), payload)
	add("wrong_typ", "typ JWT", tok, err)
	tok, err = signWith(header("alg", "RS256", "kid", kid), payload)
	add("missing_typ", "no typ", tok, err)
	for _, ed := range []struct {
		name, why string
		edit      func(m map[string]any)
	}{
		{"wrong_iss", "another issuer", func(m map[string]any) { m["iss"] = "someone-else" }},
		{"wrong_aud", "another audience", func(m map[string]any) { m["aud"] = "other-app" }},
		{"aud_array", "aud as an array: the format wants the string", func(m map[string]any) { m["aud"] = []string{license.Audience} }},
		{"missing_exp", "no exp", func(m map[string]any) { delete(m, "exp") }},
		{"missing_nbf", "no nbf", func(m map[string]any) { delete(m, "nbf") }},
		{"missing_iat", "no iat", func(m map[string]any) { delete(m, "iat") }},
		{"exp_not_integer", "exp as a fraction", func(m map[string]any) { m["exp"] = m["exp"].(float64) + 0.5 }},
		{"exp_string", "exp as a string", func(m map[string]any) { m["exp"] = fmt.Sprint(m["exp"]) }},
		{"exp_beyond_grace", "exp later than expires_at plus grace", func(m map[string]any) { m["exp"] = m["exp"].(float64) + 86400*365 }},
		{"nbf_not_starts_at", "nbf earlier than starts_at", func(m map[string]any) { m["nbf"] = m["nbf"].(float64) - 86400 }},
		{"license_version_2", "an unknown format version", func(m map[string]any) { m["license_version"] = 2 }},
		{"features_null", "features null", func(m map[string]any) { m["features"] = nil }},
		{"max_devices_zero", "no seats", func(m map[string]any) { m["max_devices"] = 0 }},
		{"half_device_binding", "device_id without a fingerprint", func(m map[string]any) { m["device_id"] = "dev-1" }},
		{"entitlement_fraction", "an entitlement of 1.5: numbers are whole", func(m map[string]any) { m["entitlements"] = map[string]any{"projects": 1.5} }},
		{"entitlement_null", "an entitlement of null", func(m map[string]any) { m["entitlements"] = map[string]any{"projects": nil} }},
		{"entitlement_object", "an entitlement whose value is an object", func(m map[string]any) { m["entitlements"] = map[string]any{"projects": map[string]any{"n": 1}} }},
		{"entitlement_array", "an entitlement whose value is an array", func(m map[string]any) { m["entitlements"] = map[string]any{"projects": []int{1}} }},
		{"entitlements_array", "entitlements as an array: the format wants an object", func(m map[string]any) { m["entitlements"] = []string{"projects"} }},
		{"entitlement_name_upper_case", "an entitlement name in upper case", func(m map[string]any) { m["entitlements"] = map[string]any{"Projects": 10} }},
		{"entitlement_long_string", "an entitlement string of 129 bytes", func(m map[string]any) { m["entitlements"] = map[string]any{"region": strings.Repeat("e", 129)} }},
		{"entitlement_control_character", "an entitlement string holding a control character", func(m map[string]any) { m["entitlements"] = map[string]any{"region": "e\u0001u"} }},
		{"lease_unbound", "a lease on a file bound to no device", func(m map[string]any) {
			m["lease_id"], m["lease_borrowed"] = "5f0c7a52-9d1e-4b8a-8f57-0c2d3e4f5a6b", false
		}},
		{"lease_without_borrowed", "lease_id without lease_borrowed", func(m map[string]any) {
			leaseOf(m)
			delete(m, "lease_borrowed")
		}},
		{"lease_with_grace", "a lease with grace days: a lease ends at its end", func(m map[string]any) {
			leaseOf(m)
			m["grace_period_days"], m["exp"] = 14.0, m["exp"].(float64)+14*86400
		}},
		{"lease_id_not_uuid", "a lease id that is not a UUID", func(m map[string]any) { leaseOf(m); m["lease_id"] = "lease-1" }},
		{"lease_borrowed_string", "lease_borrowed as a string", func(m map[string]any) { leaseOf(m); m["lease_borrowed"] = "true" }},
	} {
		tok, err := signWith(good, editClaims(c, ed.edit))
		add(ed.name, ed.why+", signed by the real key", tok, err)
	}
	tampered := editClaims(c, func(m map[string]any) { m["max_devices"] = 1000 })
	add("tampered_payload", "claims changed after signing", parts[0]+"."+b64.EncodeToString(tampered)+"."+parts[2], nil)
	add("truncated_signature", "the signature cut short", valid[:len(valid)-40], nil)
	add("missing_signature_segment", "only two segments", parts[0]+"."+parts[1], nil)
	add("empty_signature", "an empty signature", parts[0]+"."+parts[1]+".", nil)
	zero := make([]byte, (real.Public.N.BitLen()+7)/8)
	add("zero_signature", "a signature of zero bytes", parts[0]+"."+parts[1]+"."+b64.EncodeToString(zero), nil)
	add("five_segments", "a JWE-shaped token", parts[0]+"."+parts[1]+"."+parts[2]+".AAAA.AAAA", nil)
	add("padded_base64", "segments padded with =", pad(parts[0])+"."+pad(parts[1])+"."+pad(parts[2])+"=", nil)
	std := strings.NewReplacer("-", "+", "_", "/").Replace(parts[2])
	add("standard_base64_alphabet", "the signature in the standard alphabet (+ and /)", parts[0]+"."+parts[1]+"."+std, nil)
	tok, err = signWith([]byte(`{"alg":"none","kid":"`+kid+`","typ":"`+license.Type+`","alg":"RS256"}`), payload)
	add("duplicate_header_alg", "alg twice in the header, signed by the real key", tok, err)
	tok, err = signWith([]byte(`{"alg":"none","kid":"`+kid+`","typ":"`+license.Type+`","\u0061lg":"RS256"}`), payload)
	add("duplicate_header_alg_escaped", "alg twice, once spelled with a \\u escape, signed by the real key", tok, err)
	upper := strings.Replace(string(payload), `"max_devices":`, `"max_devices":3,"MAX_DEVICES":1000,"x":`, 1)
	tok, err = signWith(good, []byte(upper))
	add("claim_name_in_upper_case", "MAX_DEVICES beside max_devices, which Go's JSON would merge, signed by the real key", tok, err)
	// Member names that equal a claim only when case is folded the Unicode
	// way: Go's encoding/json reads them as the claim, JavaScript does not.
	for _, fold := range []struct{ name, why, insert string }{
		{"claim_name_long_s", "features beside featureſ (U+017F), which Go's JSON folds into features", `"featureſ":["everything"],`},
		{"claim_name_long_s_escaped", "featureſ spelled with a \\u escape", `"feature\u017f":["everything"],`},
		{"claim_name_long_s_sub", "ſub (U+017F) after sub: Go's JSON would take it as the subscription", `"ſub":"7d3c1c55-0f63-4d0e-9a8e-2f4b3e1a9c77",`},
		{"claim_name_kelvin_sign", "chec\u212a_in_days (the Kelvin sign), which Go's JSON folds into check_in_days", `"chec\u212a_in_days":0,`},
		{"claim_name_non_ascii", "an unknown claim whose name is not ASCII", `"naïve":true,`},
		{"nested_member_non_ascii", "a member name that is not ASCII inside an unknown claim", `"x_extra":{"ſ":1},`},
	} {
		body := strings.Replace(string(payload), `{`, `{`+fold.insert, 1)
		if fold.name == "claim_name_long_s_sub" {
			body = strings.Replace(string(payload), `"jti":`, fold.insert+`"jti":`, 1)
		}
		tok, err := signWith(good, []byte(body))
		add(fold.name, fold.why+", signed by the real key", tok, err)
	}
	tok, err = signWith([]byte(`{"alg":"RS256","kid":"`+kid+`","typ":"`+license.Type+`","ᴀlg":"none"}`), payload)
	add("header_member_non_ascii", "a header member whose name is not ASCII, signed by the real key", tok, err)
	for _, raw := range []struct{ name, why, insert string }{
		{"entitlement_exponent", "an entitlement written 1e3: numbers are plain whole numbers", `"entitlements":{"projects":1e3},`},
		{"entitlement_beyond_2_53", "an entitlement of 2^53, which JavaScript cannot hold exactly", `"entitlements":{"projects":9007199254740992},`},
		{"entitlement_duplicate", "an entitlement named twice", `"entitlements":{"projects":1,"projects":1000},`},
		{"entitlement_negative_zero", "an entitlement of -0, which JavaScript keeps apart from 0", `"entitlements":{"projects":-0},`},
		{"entitlement_lone_surrogate", "an entitlement string holding a lone surrogate, which Go reads as U+FFFD", `"entitlements":{"region":"eu\ud800"},`},
		{"entitlement_name_escaped_duplicate", "an entitlement named twice, once with a \\u escape", `"entitlements":{"projects":1,"\u0070rojects":1000},`},
	} {
		tok, err := signWith(good, []byte(strings.Replace(string(payload), `{`, `{`+raw.insert, 1)))
		add(raw.name, raw.why+", signed by the real key", tok, err)
	}
	dup := strings.Replace(string(payload), `"max_devices":`, `"max_devices":1000,"max_devices":`, 1)
	tok, err = signWith(good, []byte(dup))
	add("duplicate_claim", "max_devices twice in the claims, signed by the real key", tok, err)
	addRaw("empty_file", "nothing at all", []byte(""))
	addRaw("armor_only", "armor lines around nothing", []byte(license.BeginLine+"\n"+license.EndLine+"\n"))
	addRaw("missing_end_line", "the END line cut off", []byte(license.BeginLine+"\n"+valid+"\n"))
	addRaw("text_before_armor", "text before the BEGIN line", append([]byte("Hello\n"), license.Armor(valid)...))
	addRaw("not_json_header", "a header that is not JSON", []byte(b64.EncodeToString([]byte("hello"))+"."+parts[1]+"."+parts[2]))
	return cases, firstErr
}

// leaseOf makes claims a well-formed lease of a device, so that one edit
// after it is what a verifier must refuse.
func leaseOf(m map[string]any) {
	m["device_id"], m["device_fingerprint_sha256"] = "laptop-7", license.FingerprintHash("fingerprint-of-laptop-7")
	m["exp"] = m["exp"].(float64) - m["grace_period_days"].(float64)*86400
	m["grace_period_days"] = 0.0
	m["lease_id"], m["lease_borrowed"] = "5f0c7a52-9d1e-4b8a-8f57-0c2d3e4f5a6b", false
}

func pad(s string) string {
	for len(s)%4 != 0 {
		s += "="
	}
	return s
}
