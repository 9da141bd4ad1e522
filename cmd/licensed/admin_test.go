package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdminCreateNeverTakesThePasswordOnTheCommandLine(t *testing.T) {
	db := filepath.Join(t.TempDir(), "l.db")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"admin", "create", "--email", "a@example.com", "--password", "staple orbit lantern", "--db", db}, &out, &errOut)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut.String(), "--password-stdin")

	stdin = strings.NewReader("staple orbit lantern\n")
	t.Cleanup(func() { stdin = os.Stdin })
	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"admin", "create", "--email", "a@example.com", "--password-stdin", "--db", db}, &out, io.Discard))
	assert.Contains(t, out.String(), "the password you gave")
	assert.NotContains(t, out.String(), "staple orbit lantern")

	file := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(file, []byte("password1234\n"), 0o600))
	errOut.Reset()
	assert.Equal(t, 1, run(context.Background(), []string{"admin", "create", "--email", "b@example.com", "--password-file", file, "--db", db}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "most common passwords", "the policy applies")
}
