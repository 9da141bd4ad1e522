package license_test

import (
	"strings"
	"testing"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
)

// The goals: verifying a file costs at most 1.2x the raw
// RSA-PKCS1v15 verify, signing one at most 1.1x the raw sign, on the same
// 3072-bit key in the same run. Compare BenchmarkVerify with
// BenchmarkRawRSAVerify, and BenchmarkSign with BenchmarkRawRSASign.

func BenchmarkVerify(b *testing.B) {
	file := license.Armor(signSample(b))
	ks := testkeys.Set(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := license.Verify(file, ks); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawRSAVerify(b *testing.B) {
	tok := signSample(b)
	i := strings.LastIndexByte(tok, '.')
	sig, err := jsonSegment(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := testkeys.Signer(b).Public
	b.ReportAllocs()
	for b.Loop() {
		if err := rsaVerifyRaw(pub, tok[:i], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	k := testkeys.Signer(b)
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		tok, err := license.Sign(k.Signer(), k.ID, c)
		if err != nil {
			b.Fatal(err)
		}
		_ = license.Armor(tok)
	}
}

func BenchmarkRawRSASign(b *testing.B) {
	tok := signSample(b)
	input := tok[:strings.LastIndexByte(tok, '.')]
	k := testkeys.Signer(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rsaSignRaw(k.Signer(), input); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseProof is the server's cost of a DPoP proof: parse, check
// the key and the signature (ES256), once per app call.
func BenchmarkParseProof(b *testing.B) {
	k, err := license.NewDeviceKey()
	if err != nil {
		b.Fatal(err)
	}
	proof, err := k.NewProof("POST", "https://licensing.example.com/api/v1/licensing/sync", t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := license.ParseProof(proof); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewProof is an app's cost of making one.
func BenchmarkNewProof(b *testing.B) {
	k, err := license.NewDeviceKey()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.NewProof("POST", "https://licensing.example.com/api/v1/licensing/sync", t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseProofRemembered is ParseProof through a ProofParser that
// has read the device's header before: what the server pays per call.
func BenchmarkParseProofRemembered(b *testing.B) {
	k, err := license.NewDeviceKey()
	if err != nil {
		b.Fatal(err)
	}
	pp := license.NewProofParser(100)
	proof, err := k.NewProof("POST", "https://licensing.example.com/api/v1/licensing/sync", t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pp.Parse(proof); err != nil {
			b.Fatal(err)
		}
	}
}
