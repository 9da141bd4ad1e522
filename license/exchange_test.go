package license_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
)

func uuid(tb testing.TB) string {
	var b [16]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// sampleRequest is a request of n usage events over 90 days, a few
// features, as an app records them.
func sampleRequest(tb testing.TB, n int) *license.SyncRequest {
	nonce, err := license.NewNonce()
	require.NoError(tb, err)
	r := &license.SyncRequest{Kind: license.KindSyncRequest, License: signSample(tb), DeviceID: "laptop-7",
		SubscriptionID: "sub-1", Nonce: nonce, CreatedAt: t0.Add(90 * 24 * time.Hour), RevocationCursor: 12}
	features := []string{"export", "render", "ai.summary", "print"}
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * 90 * 24 * time.Hour / time.Duration(max(n, 1))).Truncate(time.Millisecond)
		r.Usage = append(r.Usage, license.ExchangeEvent{EventID: uuid(tb), Feature: features[i%len(features)], Count: int64(1 + i%3), At: at})
	}
	for d := 0; d < 90; d++ {
		r.Heartbeats = append(r.Heartbeats, license.ExchangeHeartbeat{At: t0.Add(time.Duration(d) * 24 * time.Hour), AppVersion: "2.1.0"})
	}
	return r
}

func TestSyncRequestRoundTrip(t *testing.T) {
	key, err := license.NewDeviceKey()
	require.NoError(t, err)
	for _, kind := range []license.ExchangeKind{license.KindSyncRequest, license.KindDeactivationReceipt} {
		t.Run(string(kind), func(t *testing.T) {
			r := sampleRequest(t, 50)
			r.Kind = kind
			file, err := key.SignSyncRequest(r)
			require.NoError(t, err)
			assert.Equal(t, kind, license.ExchangeKindOf(file))
			// CRLF and an unfolded body read the same.
			crlf := bytes.ReplaceAll(file, []byte("\n"), []byte("\r\n"))
			for _, f := range [][]byte{file, crlf} {
				got, err := license.ParseSyncRequest(f)
				require.NoError(t, err)
				assert.Equal(t, kind, got.Kind)
				assert.Equal(t, key.Thumbprint(), got.Key.Thumbprint)
				assert.Equal(t, r.Nonce, got.Nonce)
				assert.Equal(t, r.Usage, got.Usage)
				assert.Equal(t, r.Heartbeats, got.Heartbeats)
				assert.Equal(t, r.RevocationCursor, got.RevocationCursor)
				assert.Len(t, got.Digest, 64)
			}
		})
	}
}

// TestSyncRequestSize is the bound: 50,000 events in under 100
// bytes each, file and all.
func TestSyncRequestSize(t *testing.T) {
	key, err := license.NewDeviceKey()
	require.NoError(t, err)
	const n = 50_000
	file, err := key.SignSyncRequest(sampleRequest(t, n))
	require.NoError(t, err)
	per := float64(len(file)) / n
	t.Logf("%d events: %d bytes, %.1f bytes an event", n, len(file), per)
	assert.Less(t, per, 100.0)
	got, err := license.ParseSyncRequest(file)
	require.NoError(t, err)
	assert.Len(t, got.Usage, n)
}

// TestSyncRequestForged: whatever is changed after signing, or signed
// wrong, is refused as an invalid exchange file.
func TestSyncRequestForged(t *testing.T) {
	key, err := license.NewDeviceKey()
	require.NoError(t, err)
	other, err := license.NewDeviceKey()
	require.NoError(t, err)
	r := sampleRequest(t, 3)
	file, err := key.SignSyncRequest(r)
	require.NoError(t, err)
	compact := body(t, file, license.SyncRequestBeginLine, license.SyncRequestEndLine)
	h, p, s := split3(compact)

	otherFile, err := other.SignSyncRequest(r)
	require.NoError(t, err)
	oh, _, os := split3(body(t, otherFile, license.SyncRequestBeginLine, license.SyncRequestEndLine))

	// A payload that is not DEFLATE, signed properly, still fails cleanly.
	cases := []struct {
		name, file, want string
	}{
		{"payload changed", arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, h+"."+flip(p)+"."+s), "bad signature"},
		{"signature of another key", arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, h+"."+p+"."+os), "bad signature"},
		{"header of another key", arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, oh+"."+p+"."+s), "bad signature"},
		{"receipt armor on a request", arm(license.DeactivationReceiptBeginLine, license.DeactivationReceiptEndLine, compact), "typ"},
		{"license armor", string(license.Armor(compact)), "not a sync request"},
		{"no signature", arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, h+"."+p+"."), "signature"},
		{"two segments", arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, h+"."+p), "3 segments"},
		{"alg none", arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, seg(`{"alg":"none","typ":"flowlytix-sync-request+jwt","jwk":{}}`)+"."+p+"."), "ES256"},
		{"extra header member", arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, seg(`{"alg":"ES256","typ":"flowlytix-sync-request+jwt","kid":"x","jwk":{}}`)+"."+p+"."+s), "kid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := license.ParseSyncRequest([]byte(c.file))
			require.Error(t, err)
			assert.True(t, errors.Is(err, license.ErrInvalidExchange), "%v", err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestSyncRequestPayloadRules signs bad payloads properly: the parser
// still refuses unknown, case-folded and mistyped members, and a
// compression bomb.
func TestSyncRequestPayloadRules(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"unknown member", `{"license":"a.b.c","device_id":"d","subscription_id":"s","nonce":"0123456789abcdef","created_at":"2026-01-01T00:00:00Z","revocation_cursor":0,"heartbeats":[],"usage":[],"extra":1}`, "extra"},
		{"case-folded member", `{"License":"a.b.c","device_id":"d","subscription_id":"s","nonce":"0123456789abcdef","created_at":"2026-01-01T00:00:00Z","revocation_cursor":0,"heartbeats":[],"usage":[]}`, "snake_case"},
		{"nested case fold", `{"license":"a.b.c","device_id":"d","subscription_id":"s","nonce":"0123456789abcdef","created_at":"2026-01-01T00:00:00Z","revocation_cursor":0,"heartbeats":[],"usage":[{"Event_ID":"x"}]}`, "snake_case"},
		{"duplicate", `{"license":"a.b.c","license":"d.e.f","device_id":"d","subscription_id":"s","nonce":"0123456789abcdef","created_at":"2026-01-01T00:00:00Z","revocation_cursor":0,"heartbeats":[],"usage":[]}`, "duplicate"},
		{"cursor a string", `{"license":"a.b.c","device_id":"d","subscription_id":"s","nonce":"0123456789abcdef","created_at":"2026-01-01T00:00:00Z","revocation_cursor":"0","heartbeats":[],"usage":[]}`, "revocation_cursor"},
		{"short nonce", `{"license":"a.b.c","device_id":"d","subscription_id":"s","nonce":"x","created_at":"2026-01-01T00:00:00Z","revocation_cursor":0,"heartbeats":[],"usage":[]}`, "nonce"},
		{"bomb", `{"license":"` + strings.Repeat("a", license.MaxExchangePayload+10) + `"}`, "inflates"},
		// Counted before decoding: a small file of many tiny rows costs a scan.
		{"too many rows", `{"license":"a.b.c","device_id":"d","subscription_id":"s","nonce":"0123456789abcdef","created_at":"2026-01-01T00:00:00Z","revocation_cursor":0,"heartbeats":[` +
			strings.TrimSuffix(strings.Repeat(`{"at":"x"},`, license.MaxExchangeHeartbeats+1), ",") + `],"usage":[]}`, "10001 heartbeats is more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := license.SignRawSyncRequestForTest(t, []byte(c.json))
			_, err := license.ParseSyncRequest(file)
			require.Error(t, err)
			assert.True(t, errors.Is(err, license.ErrInvalidExchange), "%v", err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestSyncResponseRoundTripAndForgery(t *testing.T) {
	signer := testkeys.Signer(t)
	resp := &license.SyncResponse{Issuer: license.Issuer, IssuedAt: t0.Unix(), Nonce: "0123456789abcdef", RequestSHA256: strings.Repeat("a", 64),
		DeviceID: "laptop-7", SubscriptionID: "sub-1", Status: "active", ServerTime: t0, Acknowledged: []string{uuid(t)}, Heartbeats: 2,
		Revocations: []license.Revocation{{Seq: 3, SubscriptionID: "sub-1", DeviceID: "laptop-7", State: license.StateActive, At: t0}}, Cursor: 3}
	file, err := license.SignSyncResponse(signer.Signer(), signer.ID, resp)
	require.NoError(t, err)
	got, err := license.ParseSyncResponse(file, testkeys.Set(t))
	require.NoError(t, err)
	assert.Equal(t, resp.Acknowledged, got.Acknowledged)
	assert.Equal(t, resp.Revocations, got.Revocations)
	assert.Equal(t, "active", got.Status)

	attacker := testkeys.Attacker(t)
	forged, err := license.SignSyncResponse(attacker.Signer(), signer.ID, resp)
	require.NoError(t, err)
	compact := body(t, file, license.SyncResponseBeginLine, license.SyncResponseEndLine)
	h, p, s := split3(compact)
	for name, f := range map[string][]byte{
		"another key":     forged,
		"payload changed": []byte(arm(license.SyncResponseBeginLine, license.SyncResponseEndLine, h+"."+flip(p)+"."+s)),
		"request armor":   []byte(arm(license.SyncRequestBeginLine, license.SyncRequestEndLine, compact)),
	} {
		_, err := license.ParseSyncResponse(f, testkeys.Set(t))
		assert.ErrorIs(t, err, license.ErrInvalidExchange, name)
	}
}

// FuzzParseSyncRequest: no input panics; every refusal wraps
// ErrInvalidExchange; whatever is accepted signs again and parses back.
func FuzzParseSyncRequest(f *testing.F) {
	key, err := license.NewDeviceKey()
	if err != nil {
		f.Fatal(err)
	}
	for _, kind := range []license.ExchangeKind{license.KindSyncRequest, license.KindDeactivationReceipt} {
		r := sampleRequest(f, 3)
		r.Kind = kind
		file, err := key.SignSyncRequest(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(file)
	}
	f.Add([]byte(license.SyncRequestBeginLine + "\na.b.c\n" + license.SyncRequestEndLine))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := license.ParseSyncRequest(data)
		if err != nil {
			if !errors.Is(err, license.ErrInvalidExchange) {
				t.Fatalf("got %v, want an error wrapping ErrInvalidExchange", err)
			}
			return
		}
		again, err := key.SignSyncRequest(r)
		if err != nil {
			t.Fatalf("an accepted request does not sign again: %v", err)
		}
		back, err := license.ParseSyncRequest(again)
		if err != nil || back.Nonce != r.Nonce || len(back.Usage) != len(r.Usage) {
			t.Fatalf("round trip changed the request: %v", err)
		}
	})
}

// FuzzParseSyncResponse: no input panics, and every refusal wraps
// ErrInvalidExchange.
func FuzzParseSyncResponse(f *testing.F) {
	signer := testkeys.Signer(f)
	file, err := license.SignSyncResponse(signer.Signer(), signer.ID, &license.SyncResponse{Issuer: license.Issuer, IssuedAt: t0.Unix(),
		Nonce: "0123456789abcdef", DeviceID: "d", SubscriptionID: "s", Status: "active", ServerTime: t0})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(file)
	f.Add([]byte(license.SyncResponseBeginLine + "\na.b.c\n" + license.SyncResponseEndLine))
	ks := testkeys.Set(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := license.ParseSyncResponse(data, ks); err != nil && !errors.Is(err, license.ErrInvalidExchange) {
			t.Fatalf("got %v, want an error wrapping ErrInvalidExchange", err)
		}
	})
}

func body(tb testing.TB, file []byte, begin, end string) string {
	s := strings.TrimSpace(string(file))
	require.True(tb, strings.HasPrefix(s, begin) && strings.HasSuffix(s, end))
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(s, begin), end), "\n", "")
}

func split3(compact string) (string, string, string) {
	p := strings.Split(compact, ".")
	return p[0], p[1], p[2]
}

func arm(begin, end, compact string) string { return begin + "\n" + compact + "\n" + end + "\n" }

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// flip changes one character in the middle of a base64url segment.
func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
