package clientlib

import (
	"os/exec"
	"regexp"
	"syscall"
)

var (
	machineGUID = regexp.MustCompile(`MachineGuid\s+REG_SZ\s+([0-9A-Fa-f-]+)`)
	productID   = regexp.MustCompile(`ProductId\s+REG_SZ\s+(\S+)`)
)

// platformComponents: MachineGuid, and the OS installation's ProductId.
func platformComponents(string) map[string]string {
	out := map[string]string{}
	if id, err := machineID(); err == nil {
		out["machine_id"] = id
	}
	cmd := exec.Command("reg", "query", `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, "/v", "ProductId")
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: 0x08000000} // CREATE_NO_WINDOW
	if b, err := cmd.Output(); err == nil {
		if m := productID.FindSubmatch(b); m != nil {
			out["os_install"] = string(m[1])
		}
	}
	return out
}

func machineID() (string, error) {
	cmd := exec.Command("reg", "query", `HKLM\SOFTWARE\Microsoft\Cryptography`, "/v", "MachineGuid")
	// No console window flashes up in a GUI app while reg runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: 0x08000000} // CREATE_NO_WINDOW
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	if m := machineGUID.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	return "", errNoMachineID
}
