package clientlib

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowlytix/licensing/license"
)

// MachineComponents returns this machine's fingerprint components for one
// app (docs/license-format.md, section 3.6): machine_id everywhere, and what
// the platform offers besides (on Linux the board's UUID or serial, the
// primary disk's serial and a physical interface's permanent MAC; on macOS
// the platform serial number; on Windows the OS installation's product
// id). Each is salted with appID and hashed: the raw values never leave the
// machine. The JavaScript package's machineComponents gives the same set.
//
// The server matches a device by these components (3 of them by default),
// so a new disk or network card keeps the device's seat, within its plan's
// rebind quota, and a copy of its disk on other hardware does not.
func MachineComponents(appID string) (license.Components, error) {
	return machineComponents(appID, "/")
}

// machineComponents reads the components below root (a test's fake /sys).
func machineComponents(appID, root string) (license.Components, error) {
	raw := platformComponents(root)
	if strings.TrimSpace(raw[license.ComponentMachineID]) == "" {
		id, err := fallbackID()
		if err != nil {
			return nil, fmt.Errorf("machine components: %w", err)
		}
		raw[license.ComponentMachineID] = id
	}
	c := license.Components{}
	for name, v := range raw {
		if strings.TrimSpace(v) != "" {
			c[name] = license.ComponentValue(appID, name, v)
		}
	}
	return c, nil
}

// junk are the values firmware writes where it has nothing to say.
var junk = map[string]bool{"": true, "none": true, "0": true, "default string": true, "not specified": true,
	"not applicable": true, "to be filled by o.e.m.": true, "system serial number": true,
	"00000000-0000-0000-0000-000000000000": true, "ffffffff-ffff-ffff-ffff-ffffffffffff": true,
	"03000200-0400-0500-0006-000700080009": true, "00:00:00:00:00:00": true}

// readValue reads a small file's trimmed content; "" when unreadable,
// junk, or not printable ASCII (which no two languages read alike).
func readValue(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 4096 {
		return ""
	}
	v := strings.Trim(string(b), " \t\r\n\v\f")
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ""
		}
	}
	if junk[license.NormalizeComponent(v)] {
		return ""
	}
	return v
}

// linuxComponents reads what Linux offers below root. The rules are the
// JavaScript package's too (fingerprint.js): keep them in step.
func linuxComponents(root string) map[string]string {
	at := func(p ...string) string { return filepath.Join(append([]string{root}, p...)...) }
	out := map[string]string{}
	for _, p := range []string{"etc/machine-id", "var/lib/dbus/machine-id"} {
		if v := readValue(at(p)); v != "" {
			out[license.ComponentMachineID] = v
			break
		}
	}
	for _, f := range []string{"product_uuid", "board_serial", "product_serial"} {
		if v := readValue(at("sys/class/dmi/id", f)); v != "" {
			out[license.ComponentBoard] = v
			break
		}
	}
disks:
	for _, name := range sortedDir(at("sys/block")) {
		for _, skip := range []string{"loop", "ram", "zram", "dm-", "sr", "md", "nbd", "fd"} {
			if strings.HasPrefix(name, skip) {
				continue disks
			}
		}
		for _, f := range []string{"device/serial", "device/wwid", "serial"} {
			if v := readValue(at("sys/block", name, f)); v != "" {
				out[license.ComponentDisk] = v
				break disks
			}
		}
	}
	for _, name := range sortedDir(at("sys/class/net")) {
		if name == "lo" {
			continue
		}
		// A physical interface has a device; a permanent address is
		// addr_assign_type 0 (random and stolen ones change).
		if _, err := os.Stat(at("sys/class/net", name, "device")); err != nil {
			continue
		}
		if t := readValue(at("sys/class/net", name, "addr_assign_type")); t != "" && t != "0" {
			continue
		}
		if v := readValue(at("sys/class/net", name, "address")); v != "" {
			out[license.ComponentMAC] = v
			break
		}
	}
	return out
}

func sortedDir(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
