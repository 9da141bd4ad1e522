package password

// CommonText is the bundled list, for the tests.
func CommonText() string { return commonText }
