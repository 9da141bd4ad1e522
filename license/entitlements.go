package license

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// Limits on entitlements, the same in every verifier (the JavaScript
// package holds files to them too).
const (
	MaxEntitlements      = 100
	MaxEntitlementString = 128 // bytes of UTF-8
	// MaxEntitlementInt is 2^53-1: larger integers lose precision in
	// JavaScript, so two verifiers could read one file two ways.
	MaxEntitlementInt = 1<<53 - 1
)

// integerText is a whole number as the format writes it: no fraction, no
// exponent, and no -0, which JavaScript would keep apart from 0.
var integerText = regexp.MustCompile(`^(0|-?[1-9][0-9]*)$`)

// ParseEntitlements reads an entitlements object: member names follow the
// feature-name rule (ValidFeatureName); values are integers within
// ±MaxEntitlementInt written without a fraction or exponent (int64),
// booleans, or strings of at most MaxEntitlementString bytes without
// control characters. Anything else (null, fractions, arrays, objects) is
// refused with the name at fault, so an issuer never signs what a verifier
// would refuse. Duplicate names are refused where the object is scanned
// strictly (license files); this also refuses them.
func ParseEntitlements(data []byte) (map[string]any, error) {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	if _, err := checkObject(data); err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	if len(raw) > MaxEntitlements {
		return nil, fmt.Errorf("entitlements: %d is more than %d", len(raw), MaxEntitlements)
	}
	out := make(map[string]any, len(raw))
	for name, v := range raw {
		val, err := EntitlementValue(name, v)
		if err != nil {
			return nil, err
		}
		out[name] = val
	}
	return out, nil
}

// EntitlementValue reads one entitlement's JSON value (see ParseEntitlements).
func EntitlementValue(name string, v json.RawMessage) (any, error) {
	if !ValidFeatureName(name) {
		return nil, fmt.Errorf("entitlements: %q is not an entitlement name: use 1 to 64 lowercase letters, digits, and _ . : - (starting with a letter or digit)", name)
	}
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return nil, fmt.Errorf("entitlements: %q has no value", name)
	case string(v) == "true", string(v) == "false":
		return string(v) == "true", nil
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("entitlements: %q: %w", name, err)
		}
		if err := checkEntitlementString(name, s); err != nil {
			return nil, err
		}
		return s, nil
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		n, err := strconv.ParseInt(string(v), 10, 64)
		if !integerText.Match(v) || err != nil || n > MaxEntitlementInt || n < -MaxEntitlementInt {
			return nil, fmt.Errorf("entitlements: %q is %s; a number must be a whole number from -%d to %d", name, v, int64(MaxEntitlementInt), int64(MaxEntitlementInt))
		}
		return n, nil
	}
	return nil, fmt.Errorf("entitlements: %q is %s; want a whole number, true, false or a short string", name, v)
}

func checkEntitlementString(name, s string) error {
	if len(s) > MaxEntitlementString {
		return fmt.Errorf("entitlements: %q is %d bytes long; at most %d", name, len(s), MaxEntitlementString)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("entitlements: %q is not UTF-8", name)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("entitlements: %q holds a control character", name)
		}
		// U+FFFD is what Go's decoder makes of a lone surrogate
		// ("\ud800"), which JavaScript keeps: refused, so that no two
		// verifiers read one string two ways.
		if r == utf8.RuneError {
			return fmt.Errorf("entitlements: %q holds U+FFFD or a lone surrogate", name)
		}
	}
	return nil
}

// CheckEntitlements holds values made in Go (an issuer's input) to the
// rules ParseEntitlements applies to a file: int, int64, bool or string.
func CheckEntitlements(m map[string]any) error {
	if len(m) > MaxEntitlements {
		return fmt.Errorf("entitlements: %d is more than %d", len(m), MaxEntitlements)
	}
	for name, v := range m {
		if !ValidFeatureName(name) {
			return fmt.Errorf("entitlements: %q is not an entitlement name: use 1 to 64 lowercase letters, digits, and _ . : - (starting with a letter or digit)", name)
		}
		switch x := v.(type) {
		case bool:
		case string:
			if err := checkEntitlementString(name, x); err != nil {
				return err
			}
		case int:
			if int64(x) > MaxEntitlementInt || int64(x) < -MaxEntitlementInt {
				return fmt.Errorf("entitlements: %q is %d; at most %d either way", name, x, int64(MaxEntitlementInt))
			}
		case int64:
			if x > MaxEntitlementInt || x < -MaxEntitlementInt {
				return fmt.Errorf("entitlements: %q is %d; at most %d either way", name, x, int64(MaxEntitlementInt))
			}
		default:
			return fmt.Errorf("entitlements: %q is a %T; want a whole number, a boolean or a string", name, v)
		}
	}
	return nil
}
