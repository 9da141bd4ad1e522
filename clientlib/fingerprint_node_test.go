package clientlib_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/internal/testenv"
)

// The JavaScript package's machineFingerprint gives the Go client's value
// for the same machine and app id: an Electron app and a Go helper on one
// machine are one device.
func TestMachineFingerprintMatchesTheJavaScriptPackage(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("compared on Linux and macOS")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "Node.js", "install Node.js 20+")
		return
	}
	for _, appID := range []string{"com.acme.editor", "another app"} {
		want, err := clientlib.MachineFingerprint(appID)
		require.NoError(t, err)
		cmd := exec.Command(node, "--input-type=module", "-e",
			`import { machineFingerprint } from "./fingerprint.js"; console.log(await machineFingerprint(process.argv[1]));`, appID)
		cmd.Dir = filepath.Join("js")
		cmd.Env = os.Environ()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, want, strings.TrimSpace(string(out)), appID)
	}
}
