//go:build !linux && !darwin && !windows

package clientlib

func machineID() (string, error) { return "", errNoMachineID }

func platformComponents(string) map[string]string { return map[string]string{} }
