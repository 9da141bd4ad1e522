package clientlib

func machineID() (string, error) {
	if id := platformComponents("/")["machine_id"]; id != "" {
		return id, nil
	}
	return "", errNoMachineID
}

func platformComponents(root string) map[string]string { return linuxComponents(root) }
