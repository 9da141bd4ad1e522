package issuer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

var now = time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC)

func goodInput() issuer.Input {
	return issuer.Input{
		SubscriptionID:  "0b6f2f1c-8a55-4a4e-9a57-7c8b8b1e2f10",
		CustomerID:      "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
		Tier:            license.TierEnterprise,
		Features:        []string{"export", "sso", "audit.log"},
		MaxDevices:      5,
		ExpiresAt:       time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		GracePeriodDays: 14, CheckInDays: 7, MaxOfflineDays: 30,
	}
}

func newIssuer(t *testing.T) *issuer.Issuer {
	t.Helper()
	iss, err := issuer.New(testkeys.Set(t), func() time.Time { return now })
	require.NoError(t, err)
	return iss
}

func TestIssueWritesTheContractsClaims(t *testing.T) {
	lic, err := newIssuer(t).Issue(context.Background(), goodInput())
	require.NoError(t, err)

	tok, err := license.Verify(lic.File, testkeys.Set(t))
	require.NoError(t, err, "the issued file verifies")
	c := tok.Claims
	in := goodInput()
	assert.Equal(t, license.Issuer, c.Issuer)
	assert.Equal(t, license.Audience, c.Audience)
	assert.Equal(t, in.SubscriptionID, c.SubscriptionID)
	assert.Len(t, c.ID, 36, "jti is a UUID")
	id, err := uuid.Parse(c.ID)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), id.Version(), "jti starts with the time, so stored files append to its index")
	assert.Equal(t, now.Truncate(time.Second), c.IssuedAt, "iat is the signing time in whole seconds")
	assert.Equal(t, c.IssuedAt, c.StartsAt, "starts_at defaults to now")
	assert.Equal(t, c.StartsAt, c.NotBefore)
	assert.Equal(t, in.ExpiresAt.Add(14*24*time.Hour), c.Expiry, "exp is expires_at plus grace")
	assert.Equal(t, in.CustomerID, c.TenantID, "tenant_id defaults to the customer id")
	assert.Equal(t, in.Features, c.Features)
	assert.Equal(t, 1, c.LicenseVersion)
	assert.False(t, c.DeviceBound())
	assert.NotContains(t, string(lic.File), "FLX-", "no license key in a file")
	assert.Equal(t, lic.Token, tok.Compact)
}

func TestEachFileHasItsOwnID(t *testing.T) {
	iss := newIssuer(t)
	a, err := iss.Issue(context.Background(), goodInput())
	require.NoError(t, err)
	b, err := iss.Issue(context.Background(), goodInput())
	require.NoError(t, err)
	assert.NotEqual(t, a.Claims.ID, b.Claims.ID)
}

func TestBadInputGetsAClearErrorPerField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(in *issuer.Input)
		field string
	}{
		{"expires before it starts", func(in *issuer.Input) { in.StartsAt = in.ExpiresAt.Add(time.Hour) }, "expires_at"},
		{"expires when it starts", func(in *issuer.Input) { in.StartsAt = in.ExpiresAt }, "expires_at"},
		{"expired already", func(in *issuer.Input) { in.ExpiresAt = now.Add(-time.Hour) }, "expires_at"},
		{"no expiry", func(in *issuer.Input) { in.ExpiresAt = time.Time{} }, "expires_at"},
		{"no seats", func(in *issuer.Input) { in.MaxDevices = 0 }, "max_devices"},
		{"negative seats", func(in *issuer.Input) { in.MaxDevices = -3 }, "max_devices"},
		{"a tier that is not a name", func(in *issuer.Input) { in.Tier = "<b>gold</b>" }, "tier"},
		{"a product that is not a code", func(in *issuer.Input) { in.Audience = "Acme Editor" }, "product"},
		{"an entitlement with a bad name", func(in *issuer.Input) { in.Entitlements = map[string]any{"Projects": 1} }, "entitlements"},
		{"an entitlement of a float", func(in *issuer.Input) { in.Entitlements = map[string]any{"projects": 1.5} }, "entitlements"},
		{"an entitlement beyond 2^53-1", func(in *issuer.Input) { in.Entitlements = map[string]any{"projects": int64(1) << 53} }, "entitlements"},
		{"an entitlement string too long", func(in *issuer.Input) { in.Entitlements = map[string]any{"region": strings.Repeat("e", 129)} }, "entitlements"},
		{"no tier", func(in *issuer.Input) { in.Tier = "" }, "tier"},
		{"a feature with spaces", func(in *issuer.Input) { in.Features = []string{"bulk export"} }, "features"},
		{"an upper-case feature", func(in *issuer.Input) { in.Features = []string{"Export"} }, "features"},
		{"an empty feature", func(in *issuer.Input) { in.Features = []string{""} }, "features"},
		{"a feature twice", func(in *issuer.Input) { in.Features = []string{"a", "a"} }, "features"},
		{"a very long feature", func(in *issuer.Input) { in.Features = []string{strings.Repeat("a", 65)} }, "features"},
		{"negative grace", func(in *issuer.Input) { in.GracePeriodDays = -1 }, "grace_period_days"},
		{"negative check-in", func(in *issuer.Input) { in.CheckInDays = -1 }, "check_in_days"},
		{"negative offline days", func(in *issuer.Input) { in.MaxOfflineDays = -1 }, "max_offline_days"},
		{"absurd grace", func(in *issuer.Input) { in.GracePeriodDays = 1 << 30 }, "grace_period_days"},
		{"no customer", func(in *issuer.Input) { in.CustomerID = "" }, "customer_id"},
		{"a customer that is not a UUID", func(in *issuer.Input) { in.CustomerID = "acme" }, "customer_id"},
		{"a subscription that is not a UUID", func(in *issuer.Input) { in.SubscriptionID = "sub-1" }, "subscription_id"},
		{"a device without a fingerprint", func(in *issuer.Input) { in.DeviceID = "d1" }, "device_id"},
		{"a raw fingerprint", func(in *issuer.Input) { in.DeviceID = "d1"; in.DeviceFingerprintSHA256 = "raw" }, "device_fingerprint_sha256"},
	}
	iss := newIssuer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			tc.edit(&in)
			_, err := iss.Issue(context.Background(), in)
			var ve *issuer.ValidationError
			require.True(t, errors.As(err, &ve), "got %v, want a ValidationError", err)
			assert.Equal(t, tc.field, ve.Field)
			assert.NotEmpty(t, ve.Message)
		})
	}
}

func TestIssueForRequestBindsTheRequestingDevice(t *testing.T) {
	req, err := license.NewRequest("FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "plant-floor-3", "fp-of-plant-floor-3", "windows/amd64", "5.0.0", now)
	require.NoError(t, err)
	data, err := req.Encode()
	require.NoError(t, err)
	parsed, err := license.ParseRequest(data)
	require.NoError(t, err)

	in := goodInput()
	in.MaxOfflineDays = 0 // air-gapped
	lic, err := newIssuer(t).IssueForRequest(context.Background(), in, parsed)
	require.NoError(t, err)
	assert.Equal(t, "plant-floor-3", lic.Claims.DeviceID)
	assert.Equal(t, license.FingerprintHash("fp-of-plant-floor-3"), lic.Claims.DeviceFingerprintSHA256)
	assert.Equal(t, 0, lic.Claims.MaxOfflineDays)
}

func TestNewNeedsASigner(t *testing.T) {
	verifyOnly, err := keys.NewSet(nil, testkeys.Signer(t))
	require.NoError(t, err)
	_, err = verifyOnly.Active()
	require.ErrorIs(t, err, keys.ErrNoSigner)
	_, err = issuer.New(verifyOnly, nil)
	assert.ErrorIs(t, err, keys.ErrNoSigner)
}

func TestIssueHonoursACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newIssuer(t).Issue(ctx, goodInput())
	assert.ErrorIs(t, err, context.Canceled)
}

// BenchmarkIssue and BenchmarkRawRSASign run on the same 3072-bit key in
// the same run; the goal is Issue at most 1.1x the raw sign.
func BenchmarkIssue(b *testing.B) {
	iss, err := issuer.New(testkeys.Set(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	in := goodInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Issue(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawRSASign(b *testing.B) {
	k := testkeys.Signer(b)
	msg := []byte(strings.Repeat("x", 900)) // about a license file's signing input
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256(msg)
		if _, err := k.Signer().Sign(rand.Reader, sum[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
