package license_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
)

// FuzzParse feeds arbitrary bytes to the license file reader. Whatever the
// input, it must not panic, must refuse with ErrInvalid rather than any other
// error, and anything it accepts must verify or be refused cleanly. The seed
// corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	tok := signSample(f)
	f.Add([]byte(tok))
	f.Add(license.Armor(tok))
	f.Add([]byte(license.BeginLine + "\r\n" + tok + "\r\n" + license.EndLine))
	f.Add([]byte("a.b.c"))
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	ks := testkeys.Set(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := license.Parse(data)
		if err != nil {
			if !errors.Is(err, license.ErrInvalid) {
				t.Fatalf("got error %v, want one wrapping ErrInvalid", err)
			}
			return
		}
		if parsed.Claims == nil {
			t.Fatal("parsed without claims")
		}
		if err := parsed.Verify(ks); err != nil && !errors.Is(err, license.ErrInvalid) {
			t.Fatalf("verify: got %v, want ErrInvalid", err)
		}
	})
}

// FuzzParseRequest does the same for activation request files; whatever it
// accepts must encode again and parse back to the same request.
func FuzzParseRequest(f *testing.F) {
	req, err := license.NewRequest("FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "laptop-7", "machine-fp", "linux/amd64", "1.2.3", t0)
	if err != nil {
		f.Fatal(err)
	}
	enc, err := req.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add([]byte(license.RequestBeginLine + "\n" + license.RequestEndLine))
	f.Add([]byte(license.RequestBeginLine + "\neyJsaWNlbnNlX2tleSI6MX0\n" + license.RequestEndLine))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := license.ParseRequest(data)
		if err != nil {
			if !errors.Is(err, license.ErrInvalidRequest) {
				t.Fatalf("got error %v, want one wrapping ErrInvalidRequest", err)
			}
			return
		}
		again, err := r.Encode()
		if err != nil {
			t.Fatalf("encode an accepted request: %v", err)
		}
		r2, err := license.ParseRequest(again)
		if err != nil {
			t.Fatalf("parse a re-encoded request: %v", err)
		}
		if !reflect.DeepEqual(r2, r) {
			t.Fatalf("round trip changed the request: got %+v, want %+v", r2, r)
		}
	})
}

// FuzzParseEntitlements: any input is read or refused, never a panic, and
// what is read writes back to what reads the same.
func FuzzParseEntitlements(f *testing.F) {
	for _, seed := range []string{`{"projects":10,"sso":true,"region":"eu"}`, `{"a":9007199254740991}`, `{"a":1.5}`, `{"a":1,"a":2}`, `{}`, `null`, `[]`, `{"quota.export":-3}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := license.ParseEntitlements(data)
		if err != nil {
			return
		}
		if err := license.CheckEntitlements(m); err != nil {
			t.Fatalf("read %q, which its own check refuses: %v", data, err)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := license.ParseEntitlements(out)
		if err != nil || len(back) != len(m) {
			t.Fatalf("%q read as %v wrote %s, read back as %v (%v)", data, m, out, back, err)
		}
		for k, v := range m {
			if back[k] != v {
				t.Fatalf("%q: %s changed from %v to %v", data, k, v, back[k])
			}
		}
	})
}

// FuzzParseProof feeds arbitrary DPoP headers to the proof parser: it must
// not panic, must refuse with ErrInvalidProof, and a proof it accepts must
// carry a key whose thumbprint is well formed.
func FuzzParseProof(f *testing.F) {
	k, err := license.NewDeviceKey()
	if err != nil {
		f.Fatal(err)
	}
	proof, err := k.NewProof("POST", "https://licensing.example.com/api/v1/licensing/sync", t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(proof)
	f.Add("a.b.c")
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.")
	pp := license.NewProofParser(4)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := license.ParseProof(s)
		// The parser that remembers headers answers exactly the same.
		p2, err2 := pp.Parse(s)
		if (err == nil) != (err2 == nil) || (err == nil && p.Key.Thumbprint != p2.Key.Thumbprint) {
			t.Fatalf("ParseProof says %v, ProofParser.Parse says %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, license.ErrInvalidProof) {
				t.Fatalf("got error %v, want one wrapping ErrInvalidProof", err)
			}
			return
		}
		if !license.IsThumbprint(p.Key.Thumbprint) || p.ID == "" {
			t.Fatalf("accepted a proof without a key or an id: %+v", p)
		}
	})
}
