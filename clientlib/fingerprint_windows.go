package clientlib

import (
	"os/exec"
	"regexp"
)

var machineGUID = regexp.MustCompile(`MachineGuid\s+REG_SZ\s+([0-9A-Fa-f-]+)`)

func machineID() (string, error) {
	out, err := exec.Command("reg", "query", `HKLM\SOFTWARE\Microsoft\Cryptography`, "/v", "MachineGuid").Output()
	if err != nil {
		return "", err
	}
	if m := machineGUID.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	return "", errNoMachineID
}
