package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignedTokenIsCutOutOrDecoded(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"the server's answer", `{"success":true,"signed_token":"eyJh.eyJi.c2ln","license_file":"-----BEGIN\n"}`, "eyJh.eyJi.c2ln"},
		{"spaces after the colon: decoded", `{"signed_token": "a.b.c"}`, "a.b.c"},
		{"an escape inside: decoded", `{"signed_token":"a\/b"}`, "a/b"},
		{"missing", `{"success":true}`, ""},
	} {
		got, err := signedToken(200, []byte(tc.body))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
	_, err := signedToken(409, []byte(`{"error":{"code":"device_limit"},"signed_token":"x"}`))
	assert.ErrorContains(t, err, "409", "an error status is an error, whatever the body holds")
}

func TestSteadyPartLeavesOutTheFillAndTheDrain(t *testing.T) {
	ms := time.Millisecond
	// Answers at 30 ms (the first), then every 10 ms; the last request
	// left at 75 ms, so the answers at 80 and 90 ms are the drain.
	done := []time.Duration{50 * ms, 30 * ms, 40 * ms, 60 * ms, 70 * ms, 80 * ms, 90 * ms}
	n, d := steadyPart(done, 75*ms)
	assert.Equal(t, 4, n, "40, 50, 60 and 70 ms")
	assert.Equal(t, 45*ms, d)
	n, d = steadyPart(nil, 0)
	assert.Zero(t, n)
	assert.Zero(t, d)
}
