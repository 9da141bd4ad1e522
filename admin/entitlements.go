package admin

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// Entitlements are typed in the console one per line, "name = value":
// true and false are booleans, a whole number is a number, anything else
// (or anything in double quotes) is text. The same rules as the license
// format's follow (license.CheckEntitlements).

// entitlementsText writes entitlements as the form shows them, sorted.
func entitlementsText(m map[string]any) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k + " = " + entitlementValue(m[k]) + "\n")
	}
	return b.String()
}

func entitlementValue(v any) string {
	switch x := v.(type) {
	case string:
		// Text that would read as another type is quoted.
		if x == "true" || x == "false" || x == "" || strings.TrimSpace(x) != x || strings.HasPrefix(x, `"`) {
			return strconv.Quote(x)
		}
		if _, err := strconv.ParseInt(x, 10, 64); err == nil {
			return strconv.Quote(x)
		}
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// parseEntitlements reads the form's text; a line it cannot read is an
// error on the field that names the line.
func parseEntitlements(text string) (map[string]any, error) {
	out := map[string]any{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		bad := func(why string) error {
			return &syncserver.Error{Kind: syncserver.KindInvalid, Code: syncserver.CodeInvalidRequest, Field: "entitlements",
				Message: fmt.Sprintf("line %d (%q): %s", i+1, clip(line), why)}
		}
		switch {
		case !ok:
			return nil, bad("write name = value, e.g. projects = 10")
		case !license.ValidFeatureName(name):
			return nil, bad("a name is 1 to 64 lowercase letters, digits and _ . : - (starting with a letter or digit)")
		case out[name] != nil:
			return nil, bad(name + " is named twice")
		}
		var v any
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			v = n
		} else if value == "true" || value == "false" {
			v = value == "true"
		} else if uq, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
			v = uq
		} else {
			v = value
		}
		if err := license.CheckEntitlements(map[string]any{name: v}); err != nil {
			return nil, bad(strings.TrimPrefix(err.Error(), "entitlements: "))
		}
		out[name] = v
	}
	return out, nil
}
