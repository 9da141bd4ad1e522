package clientlib

// MachineComponentsAt reads the components below a fake root.
var MachineComponentsAt = machineComponents
