package license

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The components of a device fingerprint: what a machine offers of each
// (docs/license-format.md, section 3.6). Each value is the lowercase hex
// SHA-256 of the raw value salted with the app's id, so that the server
// never learns a serial number or a MAC address, and two apps see
// different values.
const (
	ComponentMachineID = "machine_id" // /etc/machine-id, IOPlatformUUID, MachineGuid
	ComponentOSInstall = "os_install" // the OS installation (Windows ProductId and InstallDate)
	ComponentDisk      = "disk"       // the primary disk's serial
	ComponentBoard     = "board"      // the board's (or system's) UUID or serial
	ComponentMAC       = "mac"        // the permanent MAC of the first physical interface
)

// ComponentNames lists the components, in their canonical order.
var ComponentNames = []string{ComponentBoard, ComponentDisk, ComponentMachineID, ComponentMAC, ComponentOSInstall}

// DefaultComponentMatch is how many components must match, unless a
// product says otherwise: 3 (of the 4 or 5 a machine offers).
const DefaultComponentMatch = 3

// Components are a device's fingerprint components: name to salted hash.
type Components map[string]string

// CheckComponents refuses unknown names, values that are not salted hashes
// (64 lowercase hex digits), and a set without machine_id.
func CheckComponents(c Components) error {
	if _, ok := c[ComponentMachineID]; !ok {
		return fmt.Errorf("device_components: machine_id is required")
	}
	for name, v := range c {
		if !slices.Contains(ComponentNames, name) {
			return fmt.Errorf("device_components: %q is not a component; the components are %s", name, strings.Join(ComponentNames, ", "))
		}
		if !IsFingerprintHash(v) {
			return fmt.Errorf("device_components: %s must be 64 lowercase hex digits (a salted SHA-256)", name)
		}
	}
	return nil
}

// Fingerprint is the fingerprint that components make: the lowercase hex
// SHA-256 of "flowlytix-components\n" then "name=value\n" for each, in name
// order. A file is bound to its SHA-256 (FingerprintHash), like any
// fingerprint.
func (c Components) Fingerprint() string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte("flowlytix-components\n"))
	for _, n := range names {
		h.Write([]byte(n + "=" + c[n] + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ComponentMatch is how a machine's components compare with those a
// device was bound to.
type ComponentMatch struct {
	// Same, Changed, Added and Removed name the components equal on both,
	// different, only presented, and only stored.
	Same, Changed, Added, Removed []string
	// Need is how many had to be the same: the rule's number, or every
	// stored component when fewer are stored.
	Need int
	// Matched: the machine is the device (perhaps changed).
	Matched bool
	// Clone: not matched, yet machine_id is the same: a copy of the
	// device's disk or VM image on other hardware.
	Clone bool
}

// Drifted reports a match whose components changed: a rebind.
func (m ComponentMatch) Drifted() bool {
	return m.Matched && len(m.Changed)+len(m.Added)+len(m.Removed) > 0
}

// MatchComponents compares presented with stored: the machine is the
// device when at least need components are the same (all stored ones when
// fewer than need are stored). A component the machine no longer offers
// counts as changed, so presenting fewer never makes a match easier.
// need below 1 is DefaultComponentMatch.
func MatchComponents(stored, presented Components, need int) ComponentMatch {
	if need < 1 {
		need = DefaultComponentMatch
	}
	m := ComponentMatch{Need: min(need, len(stored))}
	for _, n := range ComponentNames {
		s, inStored := stored[n]
		p, inPresented := presented[n]
		switch {
		case inStored && inPresented && s == p:
			m.Same = append(m.Same, n)
		case inStored && inPresented:
			m.Changed = append(m.Changed, n)
		case inStored:
			m.Removed = append(m.Removed, n)
		case inPresented:
			m.Added = append(m.Added, n)
		}
	}
	m.Matched = m.Need > 0 && len(m.Same) >= m.Need
	m.Clone = !m.Matched && stored[ComponentMachineID] != "" && stored[ComponentMachineID] == presented[ComponentMachineID]
	return m
}

// NormalizeComponent trims ASCII blank space (space, tab, CR, LF, VT, FF)
// from both ends and lowercases A to Z, and nothing else: the same in every
// language, where Unicode's spaces and case rules are not.
func NormalizeComponent(raw string) string {
	raw = strings.Trim(raw, " \t\r\n\v\f")
	b := []byte(raw)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ComponentValue is the salted hash of a component's raw value: the
// lowercase hex SHA-256 of "flowlytix-component", the app id, the name and
// the raw value trimmed and lowercased, separated by NUL bytes. machine_id
// is hashed as the fingerprint was before components ("flowlytix-fingerprint",
// the app id, the id), so that a device activated by an older app is known
// by its machine id.
func ComponentValue(appID, name, raw string) string {
	raw = NormalizeComponent(raw)
	var sum [32]byte
	if name == ComponentMachineID {
		sum = sha256.Sum256([]byte("flowlytix-fingerprint\x00" + appID + "\x00" + raw))
	} else {
		sum = sha256.Sum256([]byte("flowlytix-component\x00" + appID + "\x00" + name + "\x00" + raw))
	}
	return hex.EncodeToString(sum[:])
}
