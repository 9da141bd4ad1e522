//go:build !linux && !darwin && !windows

package clientlib

func machineID() (string, error) { return "", errNoMachineID }
