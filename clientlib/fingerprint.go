package clientlib

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowlytix/licensing/license"
)

// MachineFingerprint returns a fingerprint of this machine for one app:
// the machine's own stable id (Linux /etc/machine-id, macOS IOPlatformUUID,
// Windows MachineGuid), salted with appID and hashed, so two apps see
// different values and the raw id never leaves the machine. Where the
// system has no such id, a random one is made once and kept in the user's
// config directory. An app that knows its device better sets
// Config.Fingerprint itself (for example from a hardware token), and the
// library uses that instead.
func MachineFingerprint(appID string) (string, error) {
	id, err := machineID()
	if err != nil || strings.TrimSpace(id) == "" {
		if id, err = fallbackID(); err != nil {
			return "", fmt.Errorf("machine fingerprint: %w", err)
		}
	}
	return license.ComponentValue(appID, license.ComponentMachineID, id), nil
}

// fallbackID is a random id kept in the user's config directory.
func fallbackID() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "flowlytix", "machine-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, nil
}

var errNoMachineID = errors.New("no machine id on this system")
