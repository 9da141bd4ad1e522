package clientlib_test

import (
	"encoding/json"
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
	"github.com/flowlytix/licensing/license"
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

// Go and JavaScript read the same components on the same Linux machine,
// and make the same fingerprint of them: on this machine, and on a fake
// tree that offers every component (with the distractors each rule
// skips: a loop disk, lo, a virtual interface, a random MAC, junk
// firmware values).
func TestMachineComponentsMatchTheJavaScriptPackage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the component rules compared are Linux's")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "Node.js", "install Node.js 20+")
		return
	}
	fake := t.TempDir()
	write := func(p, v string) {
		full := filepath.Join(fake, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(v), 0o644))
	}
	write("etc/machine-id", "4c4c4544004d3510804ac4c04f4b4d32\n")
	write("sys/class/dmi/id/product_uuid", "03000200-0400-0500-0006-000700080009\n") // junk: skipped
	write("sys/class/dmi/id/board_serial", "  /7XK2QJ2/CNWS2006A10095/ \n")
	write("sys/block/loop0/device/serial", "loopy")
	write("sys/block/nvme0n1/device/serial", "S4EWNX0R123456  \n")
	write("sys/block/sda/device/serial", "second-disk")
	write("sys/class/net/lo/address", "00:00:00:00:00:00")
	write("sys/class/net/docker0/address", "02:42:ac:11:00:02") // no device: virtual
	write("sys/class/net/enp0s1/device/vendor", "0x8086")
	write("sys/class/net/enp0s1/addr_assign_type", "1") // random: skipped
	write("sys/class/net/enp0s1/address", "aa:bb:cc:dd:ee:ff")
	write("sys/class/net/enp0s2/device/vendor", "0x8086")
	write("sys/class/net/enp0s2/addr_assign_type", "0")
	write("sys/class/net/enp0s2/address", "3C:52:82:4A:1B:2C\n")

	const appID = "com.acme.editor"
	for _, root := range []string{"/", fake} {
		want, err := clientlib.MachineComponentsAt(appID, root)
		require.NoError(t, err)
		require.NoError(t, license.CheckComponents(want))
		cmd := exec.Command(node, "--input-type=module", "-e", `import { machineComponents, componentsFingerprint } from "./fingerprint.js";
const c = await machineComponents(process.argv[1], { root: process.argv[2] });
console.log(JSON.stringify({ components: c, fingerprint: componentsFingerprint(c) }));`, appID, root)
		cmd.Dir = "js"
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		var got struct {
			Components  license.Components `json:"components"`
			Fingerprint string             `json:"fingerprint"`
		}
		require.NoError(t, json.Unmarshal(out, &got), "%s", out)
		assert.Equal(t, want, got.Components, root)
		assert.Equal(t, want.Fingerprint(), got.Fingerprint, root)
		if root == fake {
			assert.Equal(t, license.Components{
				"machine_id": license.ComponentValue(appID, "machine_id", "4c4c4544004d3510804ac4c04f4b4d32"),
				"board":      license.ComponentValue(appID, "board", "/7XK2QJ2/CNWS2006A10095/"),
				"disk":       license.ComponentValue(appID, "disk", "S4EWNX0R123456"),
				"mac":        license.ComponentValue(appID, "mac", "3c:52:82:4a:1b:2c"),
			}, want, "each rule picked its component")
		}
	}
}
