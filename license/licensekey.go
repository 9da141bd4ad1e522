package license

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// A license key is what a customer types to activate: "FLX-" and five groups
// of five Crockford base32 characters, 125 random bits, so that guessing one
// is hopeless even before rate limits. Readers accept lower case and treat
// the look-alikes O as 0 and I and L as 1.
const (
	licenseKeyPrefix = "FLX-"
	licenseKeyGroups = 5
	licenseKeyGroup  = 5
	crockford        = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// ErrInvalidLicenseKey is returned for a string that is not a license key.
var ErrInvalidLicenseKey = errors.New("invalid license key")

// NewLicenseKey returns a fresh random license key.
func NewLicenseKey() (string, error) {
	raw := make([]byte, licenseKeyGroups*licenseKeyGroup)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("new license key: %w", err)
	}
	var b strings.Builder
	b.WriteString(licenseKeyPrefix)
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
	want := len(licenseKeyPrefix) + licenseKeyGroups*licenseKeyGroup + licenseKeyGroups - 1
	if len(s) != want || !strings.HasPrefix(s, licenseKeyPrefix) {
		return "", fmt.Errorf("%w: want the form FLX-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX", ErrInvalidLicenseKey)
	}
	out := []byte(s)
	for i := len(licenseKeyPrefix); i < len(out); i++ {
		pos := i - len(licenseKeyPrefix)
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
func LicenseKeyPrefix(s string) (prefix string, ok bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.NewReplacer("-", "", " ", "").Replace(s)
	rest, found := strings.CutPrefix(s, strings.TrimSuffix(licenseKeyPrefix, "-"))
	if !found || rest == "" || len(rest) > licenseKeyGroups*licenseKeyGroup {
		return "", false
	}
	var b strings.Builder
	b.WriteString(licenseKeyPrefix)
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
