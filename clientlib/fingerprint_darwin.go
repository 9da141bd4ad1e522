package clientlib

import (
	"os/exec"
	"regexp"
)

var (
	platformUUID   = regexp.MustCompile(`"IOPlatformUUID" = "([0-9A-Fa-f-]+)"`)
	platformSerial = regexp.MustCompile(`"IOPlatformSerialNumber" = "([^"]+)"`)
)

// platformComponents: the platform UUID and serial number (the board).
func platformComponents(string) map[string]string {
	out := map[string]string{}
	b, err := exec.Command("ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return out
	}
	if m := platformUUID.FindSubmatch(b); m != nil {
		out["machine_id"] = string(m[1])
	}
	if m := platformSerial.FindSubmatch(b); m != nil {
		out["board"] = string(m[1])
	}
	return out
}

func machineID() (string, error) {
	out, err := exec.Command("ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return "", err
	}
	if m := platformUUID.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	return "", errNoMachineID
}
