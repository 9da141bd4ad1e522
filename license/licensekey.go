package license

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A license key is what a customer types to activate: a product's prefix
// ("FLX" for the default product), a dash, and five groups of five
// Crockford base32 characters, 125 random bits, so that guessing one is
// hopeless even before rate limits. Readers accept lower case and treat the
// look-alikes O as 0 and I and L as 1 (in the groups, not the prefix).
const (
	// DefaultKeyPrefix is the default product's key prefix.
	DefaultKeyPrefix = "FLX"
	licenseKeyPrefix = DefaultKeyPrefix + "-"
	licenseKeyGroups = 5
	licenseKeyGroup  = 5
	crockford        = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// ErrInvalidLicenseKey is returned for a string that is not a license key.
var ErrInvalidLicenseKey = errors.New("invalid license key")

// ValidKeyPrefix reports whether p can start a product's keys: 2 to 8
// upper-case letters and digits, starting with a letter.
func ValidKeyPrefix(p string) bool {
	if len(p) < 2 || len(p) > 8 || p[0] < 'A' || p[0] > 'Z' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !(p[i] >= 'A' && p[i] <= 'Z' || p[i] >= '0' && p[i] <= '9') {
			return false
		}
	}
	return true
}

// NewLicenseKey returns a fresh random license key of the default product.
func NewLicenseKey() (string, error) { return NewLicenseKeyWithPrefix(DefaultKeyPrefix) }

// NewLicenseKeyWithPrefix returns a fresh random license key that starts
// with a product's prefix (ValidKeyPrefix).
func NewLicenseKeyWithPrefix(prefix string) (string, error) {
	if !ValidKeyPrefix(prefix) {
		return "", fmt.Errorf("new license key: %q is not a key prefix: use 2 to 8 upper-case letters and digits, starting with a letter", prefix)
	}
	raw := make([]byte, licenseKeyGroups*licenseKeyGroup)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("new license key: %w", err)
	}
	var b strings.Builder
	b.WriteString(prefix + "-")
	for i, v := range raw {
		if i > 0 && i%licenseKeyGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[v&31])
	}
	return b.String(), nil
}

// ParseLicenseKey checks a typed license key and returns it in canonical
// form (upper case, look-alikes mapped, surrounding blanks removed).
func ParseLicenseKey(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	prefix, _, _ := strings.Cut(s, "-")
	want := len(prefix) + 1 + licenseKeyGroups*licenseKeyGroup + licenseKeyGroups - 1
	if len(s) != want || !ValidKeyPrefix(prefix) {
		return "", fmt.Errorf("%w: want the form FLX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX (the letters before the first dash may be your product's)", ErrInvalidLicenseKey)
	}
	out := []byte(s)
	for i := len(prefix) + 1; i < len(out); i++ {
		pos := i - len(prefix) - 1
		if pos%(licenseKeyGroup+1) == licenseKeyGroup {
			if out[i] != '-' {
				return "", fmt.Errorf("%w: want the form FLX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX", ErrInvalidLicenseKey)
			}
			continue
		}
		switch out[i] {
		case 'O':
			out[i] = '0'
		case 'I', 'L':
			out[i] = '1'
		}
		if !strings.ContainsRune(crockford, rune(out[i])) {
			return "", fmt.Errorf("%w: %q is not a license key character", ErrInvalidLicenseKey, out[i])
		}
	}
	return string(out), nil
}

// LicenseKeyPrefix reads what someone typed as a license key or the start
// of one ("flx-abcd", "FLX ABCDE FGH", a whole key) and returns it in
// canonical form, ready to match the start of stored keys: upper case,
// look-alikes mapped, dashes between the groups. ok is false for text that
// cannot start a key (an email, a company name, "FLX" with nothing after
// it, which would match every key).
//
// Another product's prefix counts only when it is one of prefixes (the
// products' own): "Coca-Cola" is a company to look for, not the key start
// COCA-C01A.
func LicenseKeyPrefix(s string, prefixes ...string) (prefix string, ok bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	// Another product's prefix ends at the first dash ("ACME-7K2"); FLX,
	// the default product's, may be followed by a blank or nothing at all
	// ("FLX 7K2QM"), as before products. Text without either (a company
	// name such as "Acme Corp") is not a key.
	var head, rest string
	found := false
	if i := strings.IndexByte(s, '-'); i > 0 && (s[:i] == DefaultKeyPrefix || slices.ContainsFunc(prefixes, func(p string) bool { return strings.EqualFold(p, s[:i]) })) {
		head, rest, found = s[:i], s[i+1:], true
	} else if strings.HasPrefix(s, DefaultKeyPrefix) {
		head, rest, found = DefaultKeyPrefix, s[len(DefaultKeyPrefix):], true
	}
	rest = strings.NewReplacer("-", "", " ", "").Replace(rest)
	if !found || !ValidKeyPrefix(head) || rest == "" || len(rest) > licenseKeyGroups*licenseKeyGroup {
		return "", false
	}
	var b strings.Builder
	b.WriteString(head + "-")
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(crockford, c) < 0 {
			return "", false
		}
		if i > 0 && i%licenseKeyGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(c)
	}
	return b.String(), true
}
