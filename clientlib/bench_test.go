package clientlib_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

func benchFile(b *testing.B) ([]byte, *keys.Set) {
	b.Helper()
	file, err := os.ReadFile(filepath.Join(vectorsDir, "files", "bound.lic"))
	if err != nil {
		b.Fatal(err)
	}
	jwks, err := os.ReadFile(filepath.Join(vectorsDir, "jwks.json"))
	if err != nil {
		b.Fatal(err)
	}
	ks, err := keys.ParseJWKS(jwks)
	if err != nil {
		b.Fatal(err)
	}
	return file, ks
}

// BenchmarkVerify is a cold offline check of a device-bound 3072-bit file:
// parse, verify the signature, evaluate. Compare BenchmarkRawRSAVerify.
func BenchmarkVerify(b *testing.B) {
	file, ks := benchFile(b)
	opts := clientlib.VerifyOptions{Keys: ks, Now: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC),
		DeviceID: "laptop-7", Fingerprint: "fingerprint-of-laptop-7"}
	b.ReportAllocs()
	for b.Loop() {
		if res := clientlib.Verify(file, opts); res.Status != clientlib.StatusValid {
			b.Fatalf("got %s (%s), want valid", res.Status, res.Reason)
		}
	}
}

// BenchmarkRawRSAVerify is the bare RSA-PKCS1v15 verify of the same file.
func BenchmarkRawRSAVerify(b *testing.B) {
	file, ks := benchFile(b)
	compact, err := license.Unarmor(file)
	if err != nil {
		b.Fatal(err)
	}
	i := strings.LastIndexByte(compact, '.')
	sig, err := base64.RawURLEncoding.DecodeString(compact[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	tok, err := license.ParseCompact(compact)
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := ks.Lookup(tok.Header.Kid)
	input := []byte(compact[:i])
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate is the warm part of a check: rules on claims already
// verified.
func BenchmarkEvaluate(b *testing.B) {
	file, ks := benchFile(b)
	tok, err := license.Verify(file, ks)
	if err != nil {
		b.Fatal(err)
	}
	opts := clientlib.VerifyOptions{Keys: ks, Now: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC),
		DeviceID: "laptop-7", Fingerprint: "fingerprint-of-laptop-7"}
	b.ReportAllocs()
	for b.Loop() {
		if res := clientlib.Evaluate(tok.Claims, opts); res.Status != clientlib.StatusValid {
			b.Fatal(res.Status)
		}
	}
}
