package main

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"

	"github.com/flowlytix/licensing/keys"
)

// RevocationListVector is a signed revocation list (what GET
// /api/v1/licensing/revocations answers with Accept: application/jose) and
// whether a client imports it: the Go client's ImportRevocations and the
// JavaScript package's importRevocations both run every one.
type RevocationListVector struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	File        string `json:"file"`
	Accept      bool   `json:"accept"`
	// Entries is how many revocation entries an accepted list carries.
	Entries int `json:"entries"`
}

// signCompact signs header and payload as given, byte for byte: forged
// lists need headers and member names no encoder of ours would write.
func signCompact(signer crypto.Signer, header, payload string) (string, error) {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	sig, err := signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return "", err
	}
	return input + "." + enc.EncodeToString(sig), nil
}

func writeRevocationLists(out string, real, attacker *keys.Key) ([]RevocationListVector, error) {
	const entry = `{"seq":1,"subscription_id":"0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10","state":"revoked","at":"2026-01-02T00:00:00Z"}`
	header := `{"alg":"RS256","kid":"` + real.ID + `","typ":"flowlytix-revocations+jwt"}`
	good := `{"revocations":[` + entry + `],"revocation_cursor":1}`
	cases := []struct {
		name, why, header, payload string
		signer                     *keys.Key
		accept                     bool
		entries                    int
		tamper                     bool
	}{
		{"valid", "a list signed by the app's key", header, good, real, true, 1, false},
		{"empty", "a list with no entries", header, `{"revocations":[],"revocation_cursor":0}`, real, true, 0, false},
		{"case_variant_member", "a member name that case-folds to revocations, beside it", header, `{"revocations":[],"Revocations":[` + entry + `],"revocation_cursor":1}`, real, false, 0, false},
		{"long_s_member", "a member name with a long s, which some decoders fold to s", header, `{"revocations":[` + entry + `],"revocation_ſursor":1}`, real, false, 0, false},
		{"duplicate_member", "the same member twice: decoders disagree on which wins", header, `{"revocations":[],"revocations":[` + entry + `],"revocation_cursor":1}`, real, false, 0, false},
		{"nested_case_variant", "a case variant inside an entry", header, `{"revocations":[{"seq":1,"SEQ":2,"subscription_id":"0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10","state":"revoked","at":"2026-01-02T00:00:00Z"}],"revocation_cursor":1}`, real, false, 0, false},
		{"header_jku", "a header naming a key set to fetch", `{"alg":"RS256","kid":"` + real.ID + `","typ":"flowlytix-revocations+jwt","jku":"https://attacker.example/jwks.json"}`, good, real, false, 0, false},
		{"license_typ", "a license file's typ", `{"alg":"RS256","kid":"` + real.ID + `","typ":"flowlytix-license+jwt"}`, good, real, false, 0, false},
		{"alg_hs256", "a header claiming HMAC", `{"alg":"HS256","kid":"` + real.ID + `","typ":"flowlytix-revocations+jwt"}`, good, real, false, 0, false},
		{"unknown_key", "signed by a key the app does not hold", `{"alg":"RS256","kid":"` + attacker.ID + `","typ":"flowlytix-revocations+jwt"}`, good, attacker, false, 0, false},
		{"kid_swapped", "signed by another key under the app key's kid", header, good, attacker, false, 0, false},
		{"tampered", "a valid list with its payload changed after signing", header, good, real, false, 0, true},
	}
	if err := os.MkdirAll(filepath.Join(out, "revocations"), 0o755); err != nil {
		return nil, err
	}
	var vs []RevocationListVector
	for _, c := range cases {
		jws, err := signCompact(c.signer.Signer(), c.header, c.payload)
		if err != nil {
			return nil, err
		}
		if c.tamper {
			other, err := signCompact(c.signer.Signer(), c.header, `{"revocations":[],"revocation_cursor":1}`)
			if err != nil {
				return nil, err
			}
			// The other payload under the first list's signature.
			jws = other[:len(other)-len(signatureOf(other))] + signatureOf(jws)
		}
		path := "revocations/" + c.name + ".jws"
		if err := os.WriteFile(filepath.Join(out, path), []byte(jws), 0o644); err != nil {
			return nil, err
		}
		vs = append(vs, RevocationListVector{Name: c.name, Description: c.why, File: path, Accept: c.accept, Entries: c.entries})
	}
	return vs, nil
}

func signatureOf(jws string) string {
	for i := len(jws) - 1; i >= 0; i-- {
		if jws[i] == '.' {
			return jws[i+1:]
		}
	}
	return ""
}
