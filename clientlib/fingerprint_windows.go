package clientlib

import (
	"os/exec"
	"regexp"
	"strings"
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
	// The SMBIOS UUID: a copy of the disk image on other hardware has
	// another (the JavaScript package runs the same command).
	cmd = exec.Command("powershell", "-NoProfile", "-NonInteractive", "-Command", "(Get-CimInstance -ClassName Win32_ComputerSystemProduct).UUID")
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: 0x08000000}
	if b, err := cmd.Output(); err == nil {
		if u := strings.TrimSpace(string(b)); smbiosUUID.MatchString(u) && !junk[strings.ToLower(u)] {
			out["board"] = u
		}
	}
	return out
}

var smbiosUUID = regexp.MustCompile(`^[0-9A-Fa-f-]{36}$`)

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
