// Command vectorgen writes the shared test vectors: a public key set, a
// license file for every outcome of the offline check, every forgery, and a
// manifest (manifest.json) that gives each vector's clock, device and cached
// state with the outcome it must get. The Go and JavaScript verifiers both
// run the manifest, so a disagreement between them fails a test.
//
// The expected outcomes are written here by hand from the contract's rules,
// never computed by the verifier under test.
//
//	go run ./internal/vectorgen -out testdata/vectors
//
// It also refreshes the fuzz seed corpora under license/testdata/fuzz.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/flowlytix/licensing/internal/forge"
	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// Manifest is the file format of manifest.json; docs/license-format.md
// describes it for other implementations.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	GeneratedBy   string `json:"generated_by"`
	JWKS          string `json:"jwks"`
	// RootJWKS is the root key set of the vectors whose trust is "root".
	RootJWKS string   `json:"root_jwks"`
	Vectors  []Vector `json:"vectors"`
	// KeySets are JWKS documents each verifier must accept or refuse.
	KeySets []KeySetVector `json:"key_sets"`
	// RevocationLists are signed revocation lists each client must import
	// or refuse (verified with JWKS).
	RevocationLists []RevocationListVector `json:"revocation_lists"`
}

// KeySetVector is one JWKS and whether a verifier accepts it.
type KeySetVector struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	File        string `json:"file"`
	Accept      bool   `json:"accept"`
}

// Vector is one check and its expected answer.
type Vector struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	File        string `json:"file"`
	Now         string `json:"now"`
	DeviceID    string `json:"device_id"`
	Fingerprint string `json:"fingerprint"`
	// Trust is what the verifier is given: "" the jwks (the signing
	// keys), "root" the root_jwks alone (section 4.1 of the format).
	Trust string `json:"trust,omitempty"`
	// Product is the product the verifier is told the app is (its code);
	// empty means the default product, flowlytix-app.
	Product string `json:"product,omitempty"`
	State   State  `json:"state"`
	Expect  Expect `json:"expect"`
}

// State is the cached state of a vector.
type State struct {
	LatestTrustedTime string       `json:"latest_trusted_time,omitempty"`
	LastSync          string       `json:"last_sync,omitempty"`
	Revocations       []Revocation `json:"revocations"`
	// KeyRevocations are root statements the app has taken; one that a
	// root did not sign is ignored.
	KeyRevocations []string `json:"key_revocations,omitempty"`
}

// Revocation is one revocation list entry.
type Revocation struct {
	Seq            int64  `json:"seq"`
	SubscriptionID string `json:"subscription_id"`
	DeviceID       string `json:"device_id,omitempty"`
	State          string `json:"state"`
	At             string `json:"at"`
}

// Expect is the answer a verifier must give.
type Expect struct {
	Status             string          `json:"status"`
	DaysRemaining      int             `json:"days_remaining"`
	InGrace            bool            `json:"in_grace"`
	GraceDaysRemaining int             `json:"grace_days_remaining"`
	Claims             json.RawMessage `json:"claims,omitempty"`
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n float64) time.Time { return t0.Add(time.Duration(n * float64(24*time.Hour))) }

const (
	// otherProduct is a product other than the default one.
	otherProduct = "com.acme.editor"
	// MaxSafe is the largest entitlement number, 2^53-1.
	MaxSafe     = license.MaxEntitlementInt
	subID       = "0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10"
	futureSubID = "7d3c1c55-0f63-4d0e-9a8e-2f4b3e1a9c77"
	airSubID    = "3e5a2b10-6c4d-4f8e-a1b2-c3d4e5f60718"
	customerID  = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	device      = "laptop-7"
	fingerprint = "fingerprint-of-laptop-7"
	// deviceKeyThumbprint is a device key's RFC 7638 thumbprint (any 32
	// bytes in base64url has its form; verifiers only read it).
	deviceKeyThumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func main() {
	out := flag.String("out", "testdata/vectors", "where to write the vectors")
	fuzzDir := flag.String("fuzz", "license/testdata/fuzz", "where to write the fuzz seed corpora (empty: skip)")
	flag.Parse()
	if err := run(*out, *fuzzDir); err != nil {
		fmt.Fprintln(os.Stderr, "vectorgen:", err)
		os.Exit(1)
	}
}

func run(out, fuzzDir string) error {
	real, err := keys.Generate(keys.DefaultBits)
	if err != nil {
		return err
	}
	attacker, err := keys.Generate(keys.MinBits)
	if err != nil {
		return err
	}
	ks, err := keys.NewSet(real)
	if err != nil {
		return err
	}
	iss, err := issuer.New(ks, func() time.Time { return t0 })
	if err != nil {
		return err
	}
	ctx := context.Background()
	standardIn := issuer.Input{
		SubscriptionID: subID, CustomerID: customerID, Tier: license.TierProfessional,
		Features: []string{"export", "sync"}, MaxDevices: 3,
		StartsAt: t0, ExpiresAt: day(365), GracePeriodDays: 14, CheckInDays: 7, MaxOfflineDays: 30,
	}
	boundIn := standardIn
	boundIn.DeviceID, boundIn.DeviceFingerprintSHA256 = device, license.FingerprintHash(fingerprint)
	futureIn := standardIn
	futureIn.SubscriptionID, futureIn.StartsAt, futureIn.ExpiresAt = futureSubID, day(30), day(395)
	airIn := boundIn
	airIn.SubscriptionID, airIn.Tier, airIn.GracePeriodDays, airIn.CheckInDays, airIn.MaxOfflineDays = airSubID, license.TierEnterprise, 0, 0, 0

	entitledIn := standardIn
	entitledIn.Entitlements = map[string]any{"projects": 10, "sso": true, "region": "eu-west", "storage_gb": int64(MaxSafe), "offset": -3}
	productIn := entitledIn
	productIn.Audience = otherProduct
	// keyed is bound to a device key too (cnf.jkt): verifiers expose it.
	keyedIn := boundIn
	keyedIn.DeviceKeyThumbprint = deviceKeyThumbprint

	// A floating seat's lease: an hour, no grace, no check-in; and one
	// borrowed for a week to go offline.
	leaseIn := keyedIn
	leaseIn.ExpiresAt, leaseIn.GracePeriodDays, leaseIn.CheckInDays, leaseIn.MaxOfflineDays = t0.Add(time.Hour), 0, 0, 0
	leaseIn.LeaseID = "5f0c7a52-9d1e-4b8a-8f57-0c2d3e4f5a6b"
	borrowedIn := leaseIn
	borrowedIn.ExpiresAt, borrowedIn.LeaseBorrowed = day(7), true

	files := map[string]*issuer.License{}
	for name, in := range map[string]issuer.Input{"standard": standardIn, "bound": boundIn, "future": futureIn, "airgapped": airIn, "entitled": entitledIn, "product": productIn, "keyed": keyedIn,
		"lease": leaseIn, "borrowed": borrowedIn} {
		lic, err := iss.Issue(ctx, in)
		if err != nil {
			return fmt.Errorf("issue %s: %w", name, err)
		}
		files[name] = lic
	}

	rev := func(seq int64, sub, dev, state string) Revocation {
		return Revocation{Seq: seq, SubscriptionID: sub, DeviceID: dev, State: state, At: license.FormatTime(day(float64(seq)))}
	}
	// revAt is an entry at a given time (files are signed at day 0).
	revAt := func(seq int64, dev, state string, at time.Time) Revocation {
		return Revocation{Seq: seq, SubscriptionID: subID, DeviceID: dev, State: state, At: license.FormatTime(at)}
	}
	type v struct {
		product          string
		name, desc, file string
		now              time.Time
		dev, fp          string
		trusted, sync    time.Time
		revs             []Revocation
		status           string
		days, graceDays  int
	}
	vs := []v{
		{"", "valid", "a plain file well inside its term", "standard", day(10), "", "", time.Time{}, time.Time{}, nil, "valid", 355, 0},
		{"", "valid_fraction_of_a_day", "days_remaining counts whole days, rounded down", "standard", day(10.5), "", "", time.Time{}, time.Time{}, nil, "valid", 354, 0},
		{"", "valid_unbound_with_device", "a file bound to no device is valid on any device", "standard", day(10), "any-device", "any-fingerprint", time.Time{}, time.Time{}, nil, "valid", 355, 0},
		{"", "valid_device_bound", "a device-bound file on its own device", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, nil, "valid", 355, 0},
		{"", "device_mismatch_fingerprint", "the right device id with another fingerprint", "bound", day(10), device, "another-fingerprint", time.Time{}, time.Time{}, nil, "device_mismatch", 355, 0},
		{"", "device_mismatch_device_id", "the right fingerprint with another device id", "bound", day(10), "desktop-2", fingerprint, time.Time{}, time.Time{}, nil, "device_mismatch", 355, 0},
		{"", "device_mismatch_no_fingerprint", "a device-bound file checked without a fingerprint", "bound", day(10), device, "", time.Time{}, time.Time{}, nil, "device_mismatch", 355, 0},
		{"", "valid_at_expires_at", "at expires_at exactly the file is still valid: grace starts after it", "standard", day(365), "", "", time.Time{}, day(364), nil, "valid", 0, 0},
		{"", "grace", "a day past expires_at, 14 days of grace", "standard", day(366), "", "", time.Time{}, day(360), nil, "grace", 0, 13},
		{"", "grace_last_hour", "an hour before exp", "standard", day(379).Add(-time.Hour), "", "", time.Time{}, day(370), nil, "grace", 0, 0},
		{"", "expired_at_exp", "at exp exactly the file is expired", "standard", day(379), "", "", time.Time{}, day(378), nil, "expired", 0, 0},
		{"", "expired", "long past exp (and past max_offline_days: expired is checked first)", "standard", day(500), "", "", time.Time{}, time.Time{}, nil, "expired", 0, 0},
		{"", "not_yet_valid", "before starts_at (nbf)", "future", day(1), "", "", time.Time{}, time.Time{}, nil, "not_yet_valid", 394, 0},
		{"", "check_in_required", "31 days without a sync, 30 allowed", "standard", day(31), "", "", time.Time{}, time.Time{}, nil, "check_in_required", 334, 0},
		{"", "check_in_boundary", "exactly max_offline_days after iat is still allowed", "standard", day(30), "", "", time.Time{}, time.Time{}, nil, "valid", 335, 0},
		{"", "check_in_satisfied_by_sync", "a sync 11 days ago resets the offline clock", "standard", day(31), "", "", time.Time{}, day(20), nil, "valid", 334, 0},
		{"", "check_in_sync_older_than_iat", "a sync before iat counts from iat", "standard", day(31), "", "", time.Time{}, day(-5), nil, "check_in_required", 334, 0},
		{"", "airgapped_never_checks_in", "max_offline_days 0: no check-in ever", "airgapped", day(300), device, fingerprint, time.Time{}, time.Time{}, nil, "valid", 65, 0},
		{"", "airgapped_expires_without_grace", "grace 0: expired right at expires_at", "airgapped", day(365), device, fingerprint, time.Time{}, time.Time{}, nil, "expired", 0, 0},
		{"", "revoked_subscription", "the revocation list revokes the subscription", "standard", day(10), "", "", time.Time{}, time.Time{}, []Revocation{rev(1, subID, "", "revoked")}, "revoked", 355, 0},
		{"", "suspended_subscription", "a suspension also answers revoked", "standard", day(10), "", "", time.Time{}, time.Time{}, []Revocation{rev(1, subID, "", "suspended")}, "revoked", 355, 0},
		{"", "reinstated", "suspended, then reinstated: the latest entry wins", "standard", day(10), "", "", time.Time{}, time.Time{}, []Revocation{rev(1, subID, "", "suspended"), rev(2, subID, "", "active")}, "valid", 355, 0},
		{"", "reinstated_listed_out_of_order", "the highest seq wins, not the list order", "standard", day(10), "", "", time.Time{}, time.Time{}, []Revocation{rev(2, subID, "", "active"), rev(1, subID, "", "suspended")}, "valid", 355, 0},
		{"", "suspended_after_reinstatement", "reinstated, then suspended again", "standard", day(10), "", "", time.Time{}, time.Time{}, []Revocation{rev(1, subID, "", "suspended"), rev(2, subID, "", "active"), rev(3, subID, "", "suspended")}, "revoked", 355, 0},
		{"", "device_blocked", "this device is blocked", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{rev(3, subID, device, "blocked")}, "revoked", 355, 0},
		{"", "device_blocked_unbound_file", "an unbound file on a blocked device id", "standard", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{rev(3, subID, device, "blocked")}, "revoked", 355, 0},
		{"", "other_device_blocked", "another device's block does not touch this one", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{rev(3, subID, "desktop-2", "blocked")}, "valid", 355, 0},
		{"", "device_key_bound", "a file bound to a device key (cnf.jkt) on its device: the claim is exposed, and the outcome is the same", "keyed", day(10), device, fingerprint, time.Time{}, time.Time{}, nil, "valid", 355, 0},
		{"", "device_deactivated", "this device was deactivated after the file was signed", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{rev(3, subID, device, "deactivated")}, "revoked", 355, 0},
		{"", "device_deactivated_same_second", "deactivated in the second the file was signed: the file is revoked", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{revAt(3, device, "deactivated", day(0).Add(500*time.Millisecond))}, "revoked", 355, 0},
		{"", "device_deactivated_before_the_file", "deactivated before this file was signed (it activated again): valid", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{revAt(3, device, "deactivated", day(0).Add(-time.Second))}, "valid", 355, 0},
		{"", "device_deactivated_then_active", "deactivated, then activated again: the latest entry wins", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{rev(3, subID, device, "deactivated"), rev(4, subID, device, "active")}, "valid", 355, 0},
		{"", "other_device_deactivated", "another device's deactivation does not touch this one", "bound", day(10), device, fingerprint, time.Time{}, time.Time{}, []Revocation{rev(3, subID, "desktop-2", "deactivated")}, "valid", 355, 0},
		{"", "deactivated_entry_without_device", "a deactivated entry for the whole subscription means nothing: only devices are deactivated", "standard", day(10), "", "", time.Time{}, time.Time{}, []Revocation{rev(3, subID, "", "deactivated")}, "valid", 355, 0},
		{"", "other_subscription_revoked", "another subscription's revocation does not touch this one", "standard", day(10), "", "", time.Time{}, time.Time{}, []Revocation{rev(1, futureSubID, "", "revoked")}, "valid", 355, 0},
		{"", "clock_tampered", "the clock 50 days behind the latest trusted time", "standard", day(50), "", "", day(100), time.Time{}, nil, "clock_tampered", 315, 0},
		{"", "clock_within_tolerance", "4 minutes behind the latest trusted time is allowed", "standard", day(10).Add(-4 * time.Minute), "", "", day(10), time.Time{}, nil, "valid", 355, 0},
		{"", "clock_just_past_tolerance", "5 minutes and 1 second behind is not", "standard", day(10).Add(-5*time.Minute - time.Second), "", "", day(10), time.Time{}, nil, "clock_tampered", 355, 0},
		{"", "clock_before_iat", "10 minutes before the file was signed", "standard", day(0).Add(-10 * time.Minute), "", "", time.Time{}, time.Time{}, nil, "clock_tampered", 365, 0},
		{"", "clock_before_iat_within_tolerance", "3 minutes before iat (and nbf): not tampering, not yet valid", "standard", day(0).Add(-3 * time.Minute), "", "", time.Time{}, time.Time{}, nil, "not_yet_valid", 365, 0},
		{"", "order_tampered_beats_mismatch", "clock_tampered is checked before device_mismatch", "bound", day(50), device, "another-fingerprint", day(100), time.Time{}, nil, "clock_tampered", 315, 0},
		{"", "order_mismatch_beats_revoked", "device_mismatch is checked before revoked", "bound", day(10), device, "another-fingerprint", time.Time{}, time.Time{}, []Revocation{rev(1, subID, "", "revoked")}, "device_mismatch", 355, 0},
		{"", "order_revoked_beats_not_yet_valid", "revoked is checked before not_yet_valid", "future", day(1), "", "", time.Time{}, time.Time{}, []Revocation{rev(1, futureSubID, "", "revoked")}, "revoked", 394, 0},
		{"", "order_revoked_beats_expired", "revoked is checked before expired", "standard", day(500), "", "", time.Time{}, time.Time{}, []Revocation{rev(1, subID, "", "revoked")}, "revoked", 0, 0},
		{"", "order_check_in_beats_grace", "check_in_required is checked before grace", "standard", day(370), "", "", time.Time{}, day(330), nil, "check_in_required", 0, 0},
		{"", "lease_valid", "a floating seat's lease, half an hour into its hour", "lease", day(0).Add(30 * time.Minute), device, fingerprint, time.Time{}, time.Time{}, nil, "valid", 0, 0},
		{"", "lease_expired", "a lease whose end passed without renewal is expired: no grace", "lease", day(0).Add(time.Hour), device, fingerprint, time.Time{}, time.Time{}, nil, "expired", 0, 0},
		{"", "lease_other_device", "a lease is its device's", "lease", day(0).Add(30 * time.Minute), "desktop-2", "another-fingerprint", time.Time{}, time.Time{}, nil, "device_mismatch", 0, 0},
		{"", "borrowed_offline", "a seat borrowed for 7 days, 6 days offline: no check-in asked", "borrowed", day(6), device, fingerprint, time.Time{}, time.Time{}, nil, "valid", 1, 0},
		{"", "borrowed_returned_late", "a borrowed seat past its end", "borrowed", day(7), device, fingerprint, time.Time{}, time.Time{}, nil, "expired", 0, 0},
		{"", "entitlements", "named entitlements beside the features: a whole number, a boolean, a string, 2^53-1 and a negative number", "entitled", day(10), "", "", time.Time{}, time.Time{}, nil, "valid", 355, 0},
		{otherProduct, "product_matches", "a file for the product the app is", "product", day(10), "", "", time.Time{}, time.Time{}, nil, "valid", 355, 0},
		{"", "product_other_than_default", "a file for another product, checked by an app of the default product", "product", day(10), "", "", time.Time{}, time.Time{}, nil, "invalid", 0, 0},
		{"com.acme.viewer", "product_other", "a file for one product, checked by an app of another", "product", day(10), "", "", time.Time{}, time.Time{}, nil, "invalid", 0, 0},
		{otherProduct, "product_default_file_in_other_app", "a default-product file, checked by an app of another product", "standard", day(10), "", "", time.Time{}, time.Time{}, nil, "invalid", 0, 0},
	}

	if err := os.MkdirAll(filepath.Join(out, "files"), 0o755); err != nil {
		return err
	}
	jwks, err := ks.JWKS()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "jwks.json"), jwks, 0o644); err != nil {
		return err
	}
	for name, lic := range files {
		if err := os.WriteFile(filepath.Join(out, "files", name+".lic"), lic.File, 0o644); err != nil {
			return err
		}
	}
	m := Manifest{FormatVersion: 1, GeneratedBy: "go run ./internal/vectorgen -out testdata/vectors", JWKS: "jwks.json"}
	opt := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return license.FormatTime(t)
	}
	for _, x := range vs {
		var claims []byte
		if x.status != "invalid" {
			if claims, err = json.Marshal(files[x.file].Claims); err != nil {
				return err
			}
		}
		revs := x.revs
		if revs == nil {
			revs = []Revocation{}
		}
		m.Vectors = append(m.Vectors, Vector{
			Name: x.name, Description: x.desc, File: "files/" + x.file + ".lic", Now: license.FormatTime(x.now),
			DeviceID: x.dev, Fingerprint: x.fp, Product: x.product,
			State:  State{LatestTrustedTime: opt(x.trusted), LastSync: opt(x.sync), Revocations: revs},
			Expect: Expect{Status: x.status, DaysRemaining: x.days, InGrace: x.status == "grace", GraceDaysRemaining: x.graceDays, Claims: claims},
		})
	}

	forged, err := forge.All(real, attacker, files["standard"].Claims)
	if err != nil {
		return err
	}
	for _, f := range forged {
		path := "files/forged_" + f.Name + ".lic"
		if err := os.WriteFile(filepath.Join(out, path), f.File, 0o644); err != nil {
			return err
		}
		m.Vectors = append(m.Vectors, Vector{
			Name: "forged_" + f.Name, Description: f.Why, File: path, Now: license.FormatTime(day(10)),
			State:  State{Revocations: []Revocation{}},
			Expect: Expect{Status: "invalid"},
		})
	}
	if m.KeySets, err = writeKeySets(out, real); err != nil {
		return err
	}
	if m.RevocationLists, err = writeRevocationLists(out, real, attacker); err != nil {
		return err
	}
	rootVectors, err := writeRootVectors(ctx, out, real, attacker, standardIn)
	if err != nil {
		return err
	}
	m.RootJWKS = "root_jwks.json"
	m.Vectors = append(m.Vectors, rootVectors...)
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "manifest.json"), append(manifest, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %d vectors to %s\n", len(m.Vectors), out)
	if fuzzDir == "" {
		return nil
	}
	return writeFuzzSeeds(fuzzDir, files, forged)
}

// writeFuzzSeeds writes seed corpora in the go test fuzz format, so the
// fuzzers start from real files and real attacks.
func writeFuzzSeeds(dir string, files map[string]*issuer.License, forged []forge.Case) error {
	write := func(target, name string, data []byte) error {
		d := filepath.Join(dir, target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		return os.WriteFile(filepath.Join(d, name), []byte(body), 0o644)
	}
	for name, lic := range files {
		if err := write("FuzzParse", "file_"+name, lic.File); err != nil {
			return err
		}
		if err := write("FuzzParse", "bare_"+name, []byte(lic.Token)); err != nil {
			return err
		}
	}
	for _, f := range forged {
		if err := write("FuzzParse", "forged_"+f.Name, f.File); err != nil {
			return err
		}
	}
	req, err := license.NewRequest("FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", device, fingerprint, "linux/amd64", "3.1.0", t0)
	if err != nil {
		return err
	}
	enc, err := req.Encode()
	if err != nil {
		return err
	}
	seeds := map[string]string{
		"request":           string(enc),
		"request_crlf":      string(enc[:len(enc)-1]) + "\r\n",
		"request_no_armor":  string(enc[len(license.RequestBeginLine)+1 : len(enc)-len(license.RequestEndLine)-1]),
		"request_empty":     license.RequestBeginLine + "\n" + license.RequestEndLine + "\n",
		"request_not_json":  license.RequestBeginLine + "\naGVsbG8\n" + license.RequestEndLine + "\n",
		"request_with_null": license.RequestBeginLine + "\neyJsaWNlbnNlX2tleSI6bnVsbH0\n" + license.RequestEndLine + "\n",
	}
	for name, s := range seeds {
		if err := write("FuzzParseRequest", name, []byte(s)); err != nil {
			return err
		}
	}
	return nil
}

// writeKeySets writes the key set vectors: the real public key as it is,
// and edited in every way a hostile or sloppy JWKS could be.
func writeKeySets(out string, real *keys.Key) ([]KeySetVector, error) {
	b64 := base64.RawURLEncoding
	n := b64.EncodeToString(real.Public.N.Bytes())
	kid := real.ID
	jwk := func(members string) string { return `{"keys":[{` + members + `}]}` }
	base := `"kty":"RSA","kid":"` + kid + `","use":"sig","alg":"RS256","n":"` + n + `"`
	small, err := keys.Generate(keys.MinBits)
	if err != nil {
		return nil, err
	}
	smallN := new(big.Int).Rsh(small.Public.N, 1024) // 1024 bits
	cases := []struct {
		name, why, body string
		accept          bool
	}{
		{"real", "the real public key", jwk(base + `,"e":"AQAB"`), true},
		{"no_optional_members", "only kty, n and e", jwk(`"kty":"RSA","n":"` + n + `","e":"AQAB"`), true},
		{"key_ops_verify", "key_ops that allow verify", jwk(base + `,"e":"AQAB","key_ops":["verify"]`), true},
		{"unknown_member", "an unknown ASCII member is ignored", jwk(base + `,"e":"AQAB","x_vendor":"note"`), true},
		{"e_1", "public exponent 1: the signature is the message, anyone forges", jwk(`"kty":"RSA","n":"` + n + `","e":"AQ"`), false},
		{"e_2", "public exponent 2, even", jwk(`"kty":"RSA","n":"` + n + `","e":"Ag"`), false},
		{"e_65536", "an even public exponent", jwk(`"kty":"RSA","n":"` + n + `","e":"AQAA"`), false},
		{"e_leading_zero", "e with a leading zero byte", jwk(`"kty":"RSA","n":"` + n + `","e":"AAEAAQ"`), false},
		{"n_leading_zero", "n with a leading zero byte", jwk(`"kty":"RSA","n":"` + b64.EncodeToString(append([]byte{0}, real.Public.N.Bytes()...)) + `","e":"AQAB"`), false},
		{"e_257", "public exponent 257: odd and at least 3", jwk(`"kty":"RSA","n":"` + n + `","e":"AQE"`), true},
		{"e_padded", "e (257) in padded base64url", jwk(`"kty":"RSA","n":"` + n + `","e":"AQE="`), false},
		{"n_standard_alphabet", "n in the standard base64 alphabet", jwk(`"kty":"RSA","n":"` + base64.RawStdEncoding.EncodeToString(real.Public.N.Bytes()) + `","e":"AQAB"`), false},
		{"n_1024_bits", "a 1024-bit modulus", jwk(`"kty":"RSA","n":"` + b64.EncodeToString(smallN.Bytes()) + `","e":"AQAB"`), false},
		{"use_enc", "use enc", jwk(`"kty":"RSA","use":"enc","n":"` + n + `","e":"AQAB"`), false},
		{"key_ops_encrypt", "key_ops that do not allow verify", jwk(`"kty":"RSA","key_ops":["encrypt"],"n":"` + n + `","e":"AQAB"`), false},
		{"key_ops_not_list", "key_ops as a string", jwk(`"kty":"RSA","key_ops":"verify","n":"` + n + `","e":"AQAB"`), false},
		{"alg_rs512", "alg RS512", jwk(`"kty":"RSA","alg":"RS512","n":"` + n + `","e":"AQAB"`), false},
		{"kty_ec", "an EC key", `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`, false},
		{"wrong_kid", "a kid that is not the key's thumbprint", jwk(`"kty":"RSA","kid":"other","n":"` + n + `","e":"AQAB"`), false},
		{"private_d", "private key material", jwk(base + `,"e":"AQAB","d":"AQAB"`), false},
		{"trailing_data", "a second set after the first", jwk(base+`,"e":"AQAB"`) + `{"keys":[]}`, false},
		{"trailing_garbage", "text after the set", jwk(base+`,"e":"AQAB"`) + ` x`, false},
		{"duplicate_e", "e twice: e = 1 then the real e", jwk(base + `,"e":"AQ","e":"AQAB"`), false},
		{"duplicate_keys", "keys twice", `{"keys":[],"keys":[{` + base + `,"e":"AQAB"}]}`, false},
		{"case_variant_e", "E beside e: Go's JSON folds E into e", jwk(base + `,"e":"AQAB","E":"AQ"`), false},
		{"case_variant_kty", "Kty in place of kty", jwk(`"Kty":"RSA","n":"` + n + `","e":"AQAB"`), false},
		{"non_ascii_member", "a member name that is not ASCII", jwk(base + `,"e":"AQAB","ｅ":"AQ"`), false},
		{"no_keys", "an empty list", `{"keys":[]}`, false},
	}
	if err := os.MkdirAll(filepath.Join(out, "jwks"), 0o755); err != nil {
		return nil, err
	}
	var vs []KeySetVector
	for _, c := range cases {
		path := "jwks/" + c.name + ".json"
		if err := os.WriteFile(filepath.Join(out, path), []byte(c.body+"\n"), 0o644); err != nil {
			return nil, err
		}
		vs = append(vs, KeySetVector{Name: "jwks_" + c.name, Description: c.why, File: path, Accept: c.accept})
	}
	return vs, nil
}

// writeRootVectors writes the files and vectors of verification through a
// pinned root: a second signing key, endorsed by the root in every way the
// format accepts or refuses.
func writeRootVectors(ctx context.Context, out string, real, attacker *keys.Key, in issuer.Input) ([]Vector, error) {
	root, err := keys.Generate(keys.DefaultBits)
	if err != nil {
		return nil, err
	}
	signer, err := keys.Generate(keys.MinBits) // a key apps never embed: only the root vouches for it
	if err != nil {
		return nil, err
	}
	rootPub, err := keys.NewPublicKey(root.Public)
	if err != nil {
		return nil, err
	}
	rootSet, err := keys.NewSet(nil, rootPub)
	if err != nil {
		return nil, err
	}
	rootJWKS, err := rootSet.JWKS()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "root_jwks.json"), rootJWKS, 0o644); err != nil {
		return nil, err
	}
	endorse := func(by *keys.Key, pub *keys.Key, nbf, exp time.Time) string {
		e, err := license.SignEndorsement(by.Signer(), by.ID, pub.Public, nbf, exp)
		if err != nil {
			panic(err)
		}
		return e
	}
	custom := func(members map[string]any) string {
		e, err := license.SignJSON(root.Signer(), root.ID, license.EndorsementType, members)
		if err != nil {
			panic(err)
		}
		return e
	}
	jwk, _ := license.JWKOf(signer.Public)
	before := t0.Add(-time.Hour)
	good := endorse(root, signer, before, time.Time{})
	issue := func(k *keys.Key, endorsement string) (*issuer.License, error) {
		signing := *k
		signing.Endorsement = endorsement
		ks, err := keys.NewSet(&signing)
		if err != nil {
			return nil, err
		}
		iss, err := issuer.New(ks, func() time.Time { return t0 })
		if err != nil {
			return nil, err
		}
		return iss.Issue(ctx, in)
	}
	revoke := func(by *keys.Key, kid string) string {
		s, err := license.SignKeyRevocation(by.Signer(), by.ID, kid, t0)
		if err != nil {
			panic(err)
		}
		return s
	}
	type rv struct {
		name, desc, trust string
		key               *keys.Key
		endorsement       string
		keyRevocations    []string
		status            string
	}
	cases := []rv{
		{"root_endorsed", "a key the root endorsed signed it: valid with the root alone", "root", signer, good, nil, "valid"},
		{"root_endorsement_with_end", "an endorsement with an end after the file's iat", "root", signer, endorse(root, signer, before, t0.Add(time.Hour)), nil, "valid"},
		{"root_embedded_key_ignores_endorsement", "an app that embeds the signing key ignores the claim", "", real, endorse(root, real, before, time.Time{}), nil, "valid"},
		{"root_unendorsed", "no key_endorsement claim", "root", signer, "", nil, "invalid"},
		{"root_endorsed_by_non_root", "the endorsement is signed by a key the app does not pin", "root", signer, endorse(attacker, signer, before, time.Time{}), nil, "invalid"},
		{"root_endorsement_starts_after_iat", "the file was signed before its endorsement's window", "root", signer, endorse(root, signer, t0.Add(time.Hour), time.Time{}), nil, "invalid"},
		{"root_endorsement_ended_before_iat", "the file was signed after its endorsement's window", "root", signer, endorse(root, signer, t0.Add(-2*time.Hour), t0.Add(-time.Hour)), nil, "invalid"},
		{"root_endorsement_other_use", "an endorsement for another use", "root", signer, custom(map[string]any{"iss": license.Issuer, "use": "code-signing", "kid": signer.ID, "jwk": jwk, "iat": before.Unix(), "nbf": before.Unix()}), nil, "invalid"},
		{"root_endorsement_kid_not_thumbprint", "the endorsement's kid is not its key's thumbprint", "root", signer, custom(map[string]any{"iss": license.Issuer, "use": license.UseLicenseSigning, "kid": real.ID, "jwk": jwk, "iat": before.Unix(), "nbf": before.Unix()}), nil, "invalid"},
		{"root_endorsement_wrong_typ", "a root-signed document of another typ", "root", signer, func() string {
			e, err := license.SignJSON(root.Signer(), root.ID, license.Type, map[string]any{"iss": license.Issuer, "use": license.UseLicenseSigning, "kid": signer.ID, "jwk": jwk, "iat": before.Unix(), "nbf": before.Unix()})
			if err != nil {
				panic(err)
			}
			return e
		}(), nil, "invalid"},
		{"root_endorsement_of_another_key", "the endorsement names another key than the file's signer", "root", signer, endorse(root, attacker, before, time.Time{}), nil, "invalid"},
		{"root_signed_by_another_key", "a file signed by another key than the one endorsed", "root", attacker, good, nil, "invalid"},
		{"root_key_revoked", "the root revoked the signing key", "root", signer, good, []string{revoke(root, signer.ID)}, "invalid"},
		{"root_key_revocation_forged", "a revocation statement not signed by the root is ignored", "root", signer, good, []string{revoke(attacker, signer.ID)}, "valid"},
		{"root_other_key_revoked", "the root revoked another key", "root", signer, good, []string{revoke(root, attacker.ID)}, "valid"},
	}
	var vs []Vector
	for _, c := range cases {
		lic, err := issue(c.key, c.endorsement)
		if err != nil {
			return nil, fmt.Errorf("root vector %s: %w", c.name, err)
		}
		path := "files/" + c.name + ".lic"
		if err := os.WriteFile(filepath.Join(out, path), lic.File, 0o644); err != nil {
			return nil, err
		}
		v := Vector{Name: c.name, Description: c.desc, File: path, Now: license.FormatTime(day(10)), Trust: c.trust,
			State: State{Revocations: []Revocation{}, KeyRevocations: c.keyRevocations}, Expect: Expect{Status: c.status}}
		if c.status != "invalid" {
			claims, err := json.Marshal(lic.Claims)
			if err != nil {
				return nil, err
			}
			v.Expect.DaysRemaining, v.Expect.Claims = 355, claims
		}
		vs = append(vs, v)
	}
	return vs, nil
}
