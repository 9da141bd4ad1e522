package clientlib_test

import (
	"context"
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
	"github.com/flowlytix/licensing/internal/testkeys"
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

func benchClient(b *testing.B, l *licensed) *clientlib.Client {
	b.Helper()
	js, err := testkeys.Set(b).JWKS()
	if err != nil {
		b.Fatal(err)
	}
	cfg := clientlib.Config{JWKS: js, AppID: "bench", CachePath: filepath.Join(b.TempDir(), "c.db"), DeviceID: "bench", Fingerprint: "fp-bench"}
	if l != nil {
		cfg.ServerURL = l.url()
	}
	c, err := clientlib.Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkClientCheckWarm is Check after the first call: the file stays
// parsed and verified in memory.
func BenchmarkClientCheckWarm(b *testing.B) {
	l := startLicensedB(b)
	c := benchClient(b, l)
	if _, err := c.Activate(context.Background(), l.subscriptionB(b).LicenseKey); err != nil {
		b.Fatal(err)
	}
	c.Check()
	b.ReportAllocs()
	for b.Loop() {
		if r := c.Check(); r.Status != clientlib.StatusValid {
			b.Fatal(r.Status)
		}
	}
}

// BenchmarkRecordUsage appends one event to the queue, durably
// (synchronous=FULL: one fsync each).
func BenchmarkRecordUsage(b *testing.B) {
	c := benchClient(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.RecordUsage(ctx, "export", 1, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSync1000 syncs 1,000 queued events to a local licensed.
func BenchmarkSync1000(b *testing.B) {
	l := startLicensedB(b)
	c := benchClient(b, l)
	ctx := context.Background()
	if _, err := c.Activate(ctx, l.subscriptionB(b).LicenseKey); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for range 1000 {
			if err := c.RecordUsage(ctx, "export", 1, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		rep, err := c.Sync(ctx)
		if err != nil || rep.Accepted != 1000 {
			b.Fatalf("accepted %d, err %v", rep.Accepted, err)
		}
	}
}
