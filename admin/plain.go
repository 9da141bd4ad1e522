package admin

import (
	"fmt"
	"strings"

	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// labels are the names the pages give the service's fields.
var labels = map[string]string{
	"email":                 "Email",
	"company_name":          "Company",
	"first_name":            "First name",
	"last_name":             "Last name",
	"max_devices":           "Seats",
	"expires_at":            "Expiry",
	"starts_at":             "Start",
	"features":              "Features",
	"tier":                  "Tier",
	"grace_period_days":     "Grace days",
	"check_in_days":         "Check-in days",
	"max_offline_days":      "Offline days",
	"days":                  "Days",
	"name":                  "Name",
	"body":                  "Note",
	"file":                  "File",
	"from":                  "From",
	"to":                    "To",
	"price":                 "Price",
	"currency":              "Currency",
	"billing_period":        "Billing period",
	"duration_days":         "Lasts (days)",
	"free_seats_after_days": "Free seats after (days)",
	"lease_minutes":         "Lease (minutes)",
	"max_borrow_days":       "Borrow at most (days)",
	"rebinds_per_year":      "Rebinds a year",
	"floating":              "Floating",
	"grant":                 "Rebinds to grant",
	"external_price_id":     "Price id",
	"entitlements":          "Entitlements",
	"code":                  "Code",
	"key_prefix":            "Key prefix",
	"product":               "Product",
	"plan_id":               "Plan",
	"external_id":           "External id",
	"tags":                  "Tags",
	"feature":               "Feature",
	"group_by":              "Per",
}

// plain words for the errors a person can fix, field by field; the API keeps
// its own exact messages.
func plain(de *syncserver.Error) string {
	msg := de.Message
	switch de.Field {
	case "max_devices":
		if strings.Contains(msg, "want 1 to") {
			return fmt.Sprintf("Seats must be between 1 and %s.", thousands(issuer.MaxDevices))
		}
	case "grace_period_days", "check_in_days", "max_offline_days":
		if strings.Contains(msg, "negative") || strings.Contains(msg, "at most") {
			return fmt.Sprintf("%s must be between 0 and %s.", labels[de.Field], thousands(license.MaxDays))
		}
	case "expires_at":
		if strings.Contains(msg, "is missing") || strings.Contains(msg, "is required") {
			return "Choose an expiry date."
		}
		if strings.Contains(msg, "is not after starts_at") {
			return "The expiry must be after the start date."
		}
	case "tier":
		if strings.Contains(msg, "is missing") {
			return "Name a tier, e.g. basic, professional or enterprise."
		}
		return "A tier's name is 1 to 64 letters, digits, spaces and _ . -, starting with a letter or digit."
	}
	// The service's messages name the field first ("features: ..."): a
	// form shows the message beside the field, under its label.
	if de.Field != "" {
		msg = strings.TrimPrefix(msg, de.Field+": ")
		msg = strings.TrimPrefix(msg, de.Field+" ")
	}
	msg = strings.ReplaceAll(msg, "max_devices", "seats")
	msg = strings.ReplaceAll(msg, "expires_at", "expiry")
	return sentence(msg)
}

// thousands writes n with thousands separators: 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
