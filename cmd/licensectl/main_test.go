package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/license"
)

// These tests build the real licensectl and run it as a person would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "licensectl-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "licensectl")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func licensectl(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run licensectl: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

const customer = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"

func TestKeysIssueInspectVerify(t *testing.T) {
	dir := t.TempDir()
	r := licensectl(t, dir, "keys", "generate", "--out", "keys", "--bits", "2048")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "kid:")

	r = licensectl(t, dir, "keys", "jwks", "--keys", "keys")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(r.stdout), 0o644))
	assert.Contains(t, r.stdout, `"kty": "RSA"`)
	assert.NotContains(t, r.stdout, `"d":`)

	r = licensectl(t, dir, "issue", "--keys", "keys", "--customer-id", customer, "--tier", "professional",
		"--features", "export,sync", "--max-devices", "3", "--expires", "2099-01-01T00:00:00Z", "--grace-days", "14",
		"--out", "customer.lic")
	require.Equal(t, 0, r.code, r.stderr)
	file, err := os.ReadFile(filepath.Join(dir, "customer.lic"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(file), "-----BEGIN FLOWLYTIX LICENSE-----\n"))

	r = licensectl(t, dir, "inspect", "customer.lic")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"tier": "professional"`)
	assert.Contains(t, r.stdout, `"typ": "flowlytix-license+jwt"`)
	assert.Contains(t, r.stdout, "not verified")

	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "customer.lic")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "valid\n", r.stdout)

	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--now", "2099-01-05T00:00:00Z", "customer.lic")
	assert.Equal(t, 0, r.code, "grace unlocks: exit 0")
	assert.Equal(t, "grace\n", r.stdout)

	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--now", "2099-02-01T00:00:00Z", "customer.lic")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "expired\n", r.stdout)

	// A single changed character in the body makes the file invalid.
	tampered := []byte(strings.Replace(string(file), "eyJ", "eyK", 2))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tampered.lic"), tampered, 0o644))
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "tampered.lic")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "invalid\n", r.stdout)

	// A file for a product other than the default, with entitlements:
	// valid for that product's app, invalid for any other.
	r = licensectl(t, dir, "issue", "--keys", "keys", "--customer-id", customer, "--tier", "Studio",
		"--product", "com.acme.editor", "--entitlements", `{"projects":10,"sso":true}`,
		"--max-devices", "3", "--expires", "2099-01-01T00:00:00Z", "--out", "editor.lic")
	require.Equal(t, 0, r.code, r.stderr)
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--product", "com.acme.editor", "editor.lic")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, `entitlements: {"projects":10,"sso":true}`)
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "editor.lic")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "invalid\n", r.stdout)
	assert.Contains(t, r.stderr, `for the product "com.acme.editor", and this app is "flowlytix-app"`)
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--product", "com.acme.editor", "customer.lic")
	assert.Equal(t, 1, r.code, "a default-product file in another product's app")
	r = licensectl(t, dir, "issue", "--keys", "keys", "--customer-id", customer, "--tier", "Studio",
		"--entitlements", `{"projects":1.5}`, "--max-devices", "3", "--expires", "2099-01-01T00:00:00Z", "--out", "bad.lic")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "whole number")

	huge := bytes.Repeat([]byte("A"), 3<<20)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "huge.lic"), huge, 0o644))
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "huge.lic")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "invalid\n", r.stdout)
}

func TestAirGappedActivation(t *testing.T) {
	dir := t.TempDir()
	require.Equal(t, 0, licensectl(t, dir, "keys", "generate", "--out", "keys", "--bits", "2048").code)
	r := licensectl(t, dir, "keys", "jwks", "--keys", "keys")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(r.stdout), 0o644))

	r = licensectl(t, dir, "request", "--license-key", "FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012",
		"--device-id", "plant-floor-3", "--fingerprint", "fp-of-plant-floor-3", "--out", "plant.req")
	require.Equal(t, 0, r.code, r.stderr)
	req, err := os.ReadFile(filepath.Join(dir, "plant.req"))
	require.NoError(t, err)
	assert.Contains(t, string(req), "-----BEGIN FLOWLYTIX ACTIVATION REQUEST-----")
	assert.NotContains(t, string(req), "fp-of-plant-floor-3")

	r = licensectl(t, dir, "issue", "--keys", "keys", "--request", "plant.req", "--customer-id", customer,
		"--tier", "enterprise", "--max-devices", "1", "--expires", "2099-01-01", "--out", "plant.lic")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "bound to device plant-floor-3")

	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--device-id", "plant-floor-3", "--fingerprint", "fp-of-plant-floor-3", "plant.lic")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "valid\n", r.stdout)

	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--device-id", "plant-floor-3", "--fingerprint", "someone-else", "plant.lic")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "device_mismatch\n", r.stdout)

	// With a device key: made once (0600), carried by the request, bound
	// into the file, and checked by verify.
	r = licensectl(t, dir, "request", "--license-key", "FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "--device-id", "plant-floor-4",
		"--fingerprint", "fp-4", "--device-key", "device.jwk", "--out", "plant4.req")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "made a device key in device.jwk")
	st, err := os.Stat(filepath.Join(dir, "device.jwk"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	keyBefore, _ := os.ReadFile(filepath.Join(dir, "device.jwk"))
	r = licensectl(t, dir, "request", "--license-key", "FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "--device-id", "plant-floor-4",
		"--fingerprint", "fp-4", "--device-key", "device.jwk", "--out", "plant4.req")
	require.Equal(t, 0, r.code, r.stderr)
	keyAfter, _ := os.ReadFile(filepath.Join(dir, "device.jwk"))
	assert.Equal(t, keyBefore, keyAfter, "an existing key is used, never replaced")
	reqData, err := os.ReadFile(filepath.Join(dir, "plant4.req"))
	require.NoError(t, err)
	parsedReq, err := license.ParseRequest(reqData)
	require.NoError(t, err)
	require.NotNil(t, parsedReq.DeviceKey(), "the request carries the public key")
	assert.NotContains(t, string(parsedReq.DevicePublicKey), `"d"`)
	r = licensectl(t, dir, "issue", "--keys", "keys", "--request", "plant4.req", "--customer-id", customer,
		"--tier", "enterprise", "--max-devices", "1", "--expires", "2099-01-01", "--out", "plant4.lic")
	require.Equal(t, 0, r.code, r.stderr)
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--device-id", "plant-floor-4", "--fingerprint", "fp-4", "--device-key", "device.jwk", "plant4.lic")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "valid\n", r.stdout)
	r = licensectl(t, dir, "inspect", "plant4.lic")
	assert.Contains(t, r.stdout, parsedReq.DeviceKey().Thumbprint, "inspect shows cnf.jkt")
	other, _ := license.NewDeviceKey()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.jwk"), other.PublicJWK(), 0o600))
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--device-id", "plant-floor-4", "--fingerprint", "fp-4", "--device-key", "other.jwk", "plant4.lic")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "device_mismatch\n", r.stdout)
	r = licensectl(t, dir, "verify", "--jwks", "jwks.json", "--device-id", "plant-floor-3", "--fingerprint", "fp-of-plant-floor-3", "--device-key", "other.jwk", "plant.lic")
	assert.Equal(t, 1, r.code, "a file bound to no key does not match a key")
	assert.Contains(t, r.stderr, "bound to no device key")
}

func TestUsageErrorsExitTwoAndSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage"},
		{"an unknown command", []string{"frobnicate"}, "unknown command"},
		{"verify without --jwks", []string{"verify", "x.lic"}, "want --jwks FILE, --root ROOT_JWKS"},
		{"verify without a file", []string{"verify", "--jwks", "j.json"}, "exactly one LICENSE"},
		{"verify a missing file", []string{"verify", "--jwks", "missing.json", "x.lic"}, "no such file"},
		{"issue without terms", []string{"issue", "--keys", "k", "--out", "x.lic"}, "missing --customer-id, --tier, --expires"},
		{"issue with a bad date", []string{"issue", "--keys", "k", "--out", "x", "--customer-id", customer, "--tier", "basic", "--max-devices", "1", "--expires", "soon"}, "RFC 3339"},
		{"issue with a bad tier", []string{"issue", "--keys", "k", "--out", "x", "--customer-id", customer, "--tier", "<gold>", "--max-devices", "1", "--expires", "2099-01-01"}, "tier"},
		{"keys generate with a weak size", []string{"keys", "generate", "--out", "k", "--bits", "1024"}, "out of range"},
		{"request with a bad key", []string{"request", "--license-key", "nope", "--device-id", "d", "--fingerprint", "f", "--out", "r"}, "FLX-"},
		{"an unknown flag", []string{"inspect", "--bogus", "x"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := licensectl(t, dir, tc.args...)
			assert.Equal(t, 2, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
		})
	}
}

func TestAWorldReadableKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	require.Equal(t, 0, licensectl(t, dir, "keys", "generate", "--out", "keys", "--bits", "2048").code)
	matches, err := filepath.Glob(filepath.Join(dir, "keys", "*.pem"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	require.NoError(t, os.Chmod(matches[0], 0o644))
	r := licensectl(t, dir, "issue", "--keys", "keys", "--customer-id", customer, "--tier", "basic",
		"--max-devices", "1", "--expires", "2099-01-01", "--out", "x.lic")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "chmod 600")
	_, err = os.Stat(filepath.Join(dir, "x.lic"))
	assert.True(t, os.IsNotExist(err), "nothing issued")
}

func TestGenerateIfEmptyMakesOneKeyOnly(t *testing.T) {
	dir := t.TempDir()
	r := licensectl(t, dir, "keys", "generate", "--out", "k", "--bits", "2048", "--if-empty")
	require.Equal(t, 0, r.code, r.stderr)
	r = licensectl(t, dir, "keys", "generate", "--out", "k", "--bits", "2048", "--if-empty")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "nothing to do")
	keys, err := filepath.Glob(filepath.Join(dir, "k", "*.pem"))
	require.NoError(t, err)
	assert.Len(t, keys, 1)
	r = licensectl(t, dir, "keys", "generate", "--out", "k", "--bits", "2048")
	require.Equal(t, 0, r.code)
	keys, _ = filepath.Glob(filepath.Join(dir, "k", "*.pem"))
	assert.Len(t, keys, 2, "without --if-empty a new key is added: a rotation")
	assert.Contains(t, r.stdout, "1 earlier key(s) stay")
}

func TestHelpIsThere(t *testing.T) {
	r := licensectl(t, t.TempDir(), "help")
	assert.Equal(t, 0, r.code)
	for _, cmd := range []string{"keys generate", "keys jwks", "issue", "verify", "inspect", "request"} {
		assert.Contains(t, r.stdout, "licensectl "+cmd)
	}
	r = licensectl(t, t.TempDir(), "issue", "--help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stderr, "--max-offline-days")
}

// TestAStagedRotationFromTheCommandLine: generate --next publishes a key
// that signs nothing; promote makes it sign; files signed before still
// verify; revoke refuses the signer and takes a retired key out of the
// JWKS.
func TestAStagedRotationFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	r := licensectl(t, dir, "keys", "generate", "--out", "k", "--bits", "2048")
	require.Equal(t, 0, r.code, r.stderr)
	first := strings.Fields(strings.SplitN(r.stdout, "kid: ", 2)[1])[0]
	r = licensectl(t, dir, "keys", "generate", "--out", "k", "--bits", "2048", "--next")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "state next")
	next := strings.Fields(strings.SplitN(r.stdout, "kid: ", 2)[1])[0]

	jwks := licensectl(t, dir, "keys", "jwks", "--keys", "k")
	require.Equal(t, 0, jwks.code, jwks.stderr)
	assert.Contains(t, jwks.stdout, next, "a next key is published")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(jwks.stdout), 0o600))

	issue := func(out string) result {
		return licensectl(t, dir, "issue", "--keys", "k", "--customer-id", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "--tier", "basic", "--features", "export",
			"--max-devices", "1", "--expires", "2030-01-01", "--out", out)
	}
	require.Equal(t, 0, issue("before.lic").code)
	inspect := licensectl(t, dir, "inspect", "before.lic")
	assert.Contains(t, inspect.stdout, first, "the next key signs nothing yet")

	r = licensectl(t, dir, "keys", "promote", "--keys", "k", next)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "is active")
	require.Equal(t, 0, issue("after.lic").code)
	assert.Contains(t, licensectl(t, dir, "inspect", "after.lic").stdout, next, "the promoted key signs")
	for _, f := range []string{"before.lic", "after.lic"} {
		v := licensectl(t, dir, "verify", "--jwks", "jwks.json", f)
		assert.Equal(t, 0, v.code, "%s: %s %s", f, v.stdout, v.stderr)
	}

	r = licensectl(t, dir, "keys", "revoke", "--keys", "k", next)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "promote another key first")
	r = licensectl(t, dir, "keys", "revoke", "--keys", "k", first)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, licensectl(t, dir, "keys", "jwks", "--keys", "k").stdout, first, "a revoked key leaves the JWKS")
	assert.Equal(t, 2, licensectl(t, dir, "keys", "promote", "--keys", "k").code, "a usage error without a KID")
	// A kid may start with "-": it is still the KID, not a flag.
	r = licensectl(t, dir, "keys", "retire", "--keys", "k", "-no-such-kid")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, `no key "-no-such-kid"`)
}

// TestAnAppThatPinsTheRootSurvivesRotationsAndARevocation: files of two
// successive signing keys, each endorsed by the root, verify with the
// root's key set alone; an unendorsed signer does not; a key the root
// revokes... is refused by apps that learn the statement (tested in the
// license package), and here its endorsement stops being issued.
func TestAnAppThatPinsTheRootSurvivesRotations(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) result {
		t.Helper()
		r := licensectl(t, dir, args...)
		require.Equal(t, 0, r.code, "%v: %s%s", args, r.stdout, r.stderr)
		return r
	}
	run("root", "generate", "--out", "root")
	rootJWKS := run("root", "jwks", "--root", "root")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "root.jwks"), []byte(rootJWKS.stdout), 0o600))
	kidOf := func(r result) string { return strings.Fields(strings.SplitN(r.stdout, "kid: ", 2)[1])[0] }
	issue := func(out string) {
		run("issue", "--keys", "k", "--customer-id", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "--tier", "basic",
			"--features", "export", "--max-devices", "1", "--expires", "2030-01-01", "--out", out)
	}
	verifyRoot := func(file string) result {
		return licensectl(t, dir, "verify", "--root", "root.jwks", file)
	}

	// No endorsement yet: an app that pins only the root refuses the file.
	first := kidOf(run("keys", "generate", "--out", "k", "--bits", "2048"))
	issue("unendorsed.lic")
	r := verifyRoot("unendorsed.lic")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "invalid\n", r.stdout)

	// Endorse the signer from its public JWK (the private half stays put).
	jwks := run("keys", "jwks", "--keys", "k")
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(jwks.stdout), &set))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "first.jwk"), set.Keys[0], 0o600))
	run("keys", "endorse", "--root", "root", "--key", "first.jwk", "--out", filepath.Join("k", first+".endorsement"))
	issue("first.lic")
	assert.Equal(t, "valid\n", verifyRoot("first.lic").stdout)

	// Two rotations, each key endorsed from its PEM: every file verifies
	// with the root alone.
	for i, name := range []string{"second", "third"} {
		next := kidOf(run("keys", "generate", "--out", "k", "--bits", "2048", "--next"))
		run("keys", "endorse", "--root", "root", "--key", filepath.Join("k", next+".pem"), "--out", filepath.Join("k", next+".endorsement"))
		run("keys", "promote", "--keys", "k", next)
		issue(name + ".lic")
		assert.Equal(t, "valid\n", verifyRoot(name+".lic").stdout, "rotation %d", i+1)
	}
	assert.Equal(t, "valid\n", verifyRoot("first.lic").stdout, "old files keep verifying")

	// A statement revoking a key is made by the root only.
	r = run("root", "revoke-key", "--root", "root", "--kid", first, "--out", "revoke.jws")
	assert.Contains(t, r.stdout, first)
	assert.Equal(t, 2, licensectl(t, dir, "root", "generate", "--out", "root").code, "one root per directory")
}
