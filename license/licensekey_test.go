package license_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flowlytix/licensing/license"
)

func TestLicenseKeyPrefix(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"flx-abcde", "FLX-ABCDE", true},
		{"  FLX-ABCDE-FG ", "FLX-ABCDE-FG", true},
		{"flxabcdefg", "FLX-ABCDE-FG", true},
		{"FLX ABCDE FGHJK", "FLX-ABCDE-FGHJK", true},
		{"flx-o1l", "FLX-011", true}, // look-alikes, as keys are read
		{"FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", "FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ012", true},
		{"FLX-ABCDE-FGHJK-MNPQR-STVWX-YZ0123", "", false}, // longer than a key
		{"FLX", "", false},                                // would match every key
		{"FLX-", "", false},
		{"flx-abcu", "", false}, // U is not a key character
		{"ada@example.com", "", false},
		{"Acme Corp", "", false},
		{"acme-7k2q", "ACME-7K2Q", true}, // another product's prefix, before a dash
		{"ACME-7K2QM-XW9", "ACME-7K2QM-XW9", true},
		{"Acme Corp-7K2", "", false}, // a blank before the dash: words, not a key
		{"Coca-Cola", "", false},     // COCA is no product's prefix: a company to look for
		{"crm-43", "", false},
		{"x-7k2q", "", false}, // prefixes are 2 to 8 characters
		{"acme-", "", false},
		{"", "", false},
	} {
		got, ok := license.LicenseKeyPrefix(tc.in, "ACME", "X")
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}
