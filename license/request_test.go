package license_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
)

const sampleKey = "FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012"

func TestRequestRoundTrips(t *testing.T) {
	req, err := license.NewRequest(sampleKey, "laptop-7", "raw machine fingerprint", "windows/amd64", "2.4.1", t0)
	require.NoError(t, err)
	assert.Equal(t, license.FingerprintHash("raw machine fingerprint"), req.DeviceFingerprintSHA256)
	assert.NotContains(t, req.DeviceFingerprintSHA256, "raw", "only the hash leaves the machine")
	assert.GreaterOrEqual(t, len(req.Nonce), 16)

	file, err := req.Encode()
	require.NoError(t, err)
	text := string(file)
	assert.True(t, strings.HasPrefix(text, license.RequestBeginLine+"\n"))
	assert.True(t, strings.HasSuffix(text, license.RequestEndLine+"\n"))
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		assert.LessOrEqual(t, len(line), 64)
	}
	got, err := license.ParseRequest([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	require.NoError(t, err)
	assert.Equal(t, req, got)
}

func encodeRequestJSON(js string) []byte {
	return []byte(license.RequestBeginLine + "\n" + base64.RawURLEncoding.EncodeToString([]byte(js)) + "\n" + license.RequestEndLine + "\n")
}

func TestBadRequestsAreRefusedWithAReason(t *testing.T) {
	fp := license.FingerprintHash("x")
	good := `{"license_key":"` + sampleKey + `","device_id":"d1","device_fingerprint_sha256":"` + fp + `","platform":"linux","app_version":"1","created_at":"2026-01-01T00:00:00Z","nonce":"abcdefghijkl"}`
	_, err := license.ParseRequest(encodeRequestJSON(good))
	require.NoError(t, err, "the baseline must parse")

	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"no armor", []byte(base64.RawURLEncoding.EncodeToString([]byte(good))), "first line"},
		{"a license file instead", []byte(license.BeginLine + "\nabc\n" + license.EndLine), "first line"},
		{"not base64url", []byte(license.RequestBeginLine + "\n!!!\n" + license.RequestEndLine), "base64url"},
		{"not JSON", encodeRequestJSON("hello"), "JSON"},
		{"an unknown member", encodeRequestJSON(strings.Replace(good, `{`, `{"admin":"yes",`, 1)), "unknown field"},
		{"a duplicate member", encodeRequestJSON(strings.Replace(good, `{`, `{"device_id":"other",`, 1)), "duplicate"},
		{"a number for a string", encodeRequestJSON(strings.Replace(good, `"app_version":"1"`, `"app_version":1`, 1)), "want a string"},
		{"a bad license key", encodeRequestJSON(strings.Replace(good, sampleKey, "FLX-1", 1)), "license key"},
		{"a raw fingerprint", encodeRequestJSON(strings.Replace(good, fp, "not-a-hash", 1)), "64 lowercase hex"},
		{"no device id", encodeRequestJSON(strings.Replace(good, `"device_id":"d1"`, `"device_id":""`, 1)), "device_id is missing"},
		{"a control character", encodeRequestJSON(strings.Replace(good, `"device_id":"d1"`, `"device_id":"d\u0007"`, 1)), "control character"},
		{"a bad time", encodeRequestJSON(strings.Replace(good, `2026-01-01T00:00:00Z`, `yesterday`, 1)), "created_at"},
		{"too large", []byte(strings.Repeat("A", license.MaxRequestSize+1)), "more than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := license.ParseRequest(tc.file)
			require.ErrorIs(t, err, license.ErrInvalidRequest)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLicenseKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k, err := license.NewLicenseKey()
		require.NoError(t, err)
		require.False(t, seen[k], "a repeated key")
		seen[k] = true
		got, err := license.ParseLicenseKey(k)
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	cases := []struct {
		in, want string
		ok       bool
	}{
		{sampleKey, sampleKey, true},
		{"  flx-abcde-fghjk-mnpqr-stvwx-yz012 ", sampleKey, true},
		{"FLX-ABCDE-FGHJK-MNPQR-STVWX-YZO1L", "FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ011", true},
		{"FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ01U", "", false},
		{"FLX-ABCDE-FGHJK-MNPQR-STVWXYZ012", "", false},
		{"acme-abcde-fghjk-mnpqr-stvwx-yz012", "ACME-ABCDE-FGHJK-MNPQR-STVWX-YZ012", true}, // another product's prefix
		{"A-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "", false},                                     // a prefix is 2 to 8 characters
		{"1AB-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "", false},                                   // starting with a letter
		{"ÄB-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		got, err := license.ParseLicenseKey(tc.in)
		if !tc.ok {
			assert.ErrorIs(t, err, license.ErrInvalidLicenseKey, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
}
