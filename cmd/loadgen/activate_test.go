package main

import (
	"testing"

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
