// Package csvexport writes the console's records as CSV, streamed: the
// service walks the rows a chunk at a time and each row is written as it
// comes, so that a million rows take bounded memory. The web admin and the
// admin API share it, so that both export the same columns.
package csvexport

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// Start sets the headers of a CSV download named filename and returns its
// writer.
func Start(w http.ResponseWriter, filename string) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	return csv.NewWriter(w)
}

// Cell neutralises a value a spreadsheet would run as a formula (one that
// starts with = + - @, a tab or a carriage return) by prefixing a quote:
// names and device ids come from customers and apps.
func Cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func row(cw *csv.Writer, cells ...string) error {
	for i, c := range cells {
		cells[i] = Cell(c)
	}
	return cw.Write(cells)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// finish flushes the writer; an error after the first row cannot change
// the status any more, so it ends the file with a line that says so.
func finish(cw *csv.Writer, err error) error {
	if err != nil {
		_ = cw.Write([]string{"# the export stopped early: " + err.Error()})
	}
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// Customers writes the customers f selects.
func Customers(ctx context.Context, cw *csv.Writer, svc *syncserver.Service, f syncserver.CustomerFilter) error {
	err := row(cw, "id", "email", "company_name", "first_name", "last_name", "status", "created_at")
	if err == nil {
		err = svc.ExportCustomers(ctx, f, func(c *syncserver.Customer) error {
			return row(cw, c.ID, c.Email, c.CompanyName, c.FirstName, c.LastName, c.Status, ts(c.CreatedAt))
		})
	}
	return finish(cw, err)
}

// Subscriptions writes the subscriptions f selects. License keys are in
// it: the file is as secret as the keys.
func Subscriptions(ctx context.Context, cw *csv.Writer, svc *syncserver.Service, f syncserver.SubscriptionFilter) error {
	err := row(cw, "id", "customer_id", "license_key", "plan_id", "tier", "features", "status", "max_devices", "active_devices",
		"starts_at", "expires_at", "grace_period_days", "check_in_days", "max_offline_days", "created_at")
	if err == nil {
		err = svc.ExportSubscriptions(ctx, f, func(s *syncserver.Subscription) error {
			return row(cw, s.ID, s.CustomerID, s.LicenseKey, s.PlanID, s.Tier, strings.Join(s.Features, " "), s.Status,
				strconv.Itoa(s.MaxDevices), strconv.Itoa(s.ActiveDevices), ts(s.StartsAt), ts(s.ExpiresAt),
				strconv.Itoa(s.GracePeriodDays), strconv.Itoa(s.CheckInDays), strconv.Itoa(s.MaxOfflineDays), ts(s.CreatedAt))
		})
	}
	return finish(cw, err)
}

// Devices writes the devices f selects.
func Devices(ctx context.Context, cw *csv.Writer, svc *syncserver.Service, f syncserver.DeviceFilter) error {
	err := row(cw, "id", "subscription_id", "customer_id", "device_id", "hostname", "platform", "app_version", "status",
		"subscription_status", "fingerprint_sha256", "activated_at", "last_seen_at")
	if err == nil {
		err = svc.ExportDevices(ctx, f, func(d *syncserver.Device) error {
			return row(cw, d.ID, d.SubscriptionID, d.CustomerID, d.DeviceID, d.Hostname, d.Platform, d.AppVersion, d.Status,
				d.SubscriptionStatus, d.FingerprintSHA256, ts(d.ActivatedAt), ts(d.LastSeenAt))
		})
	}
	return finish(cw, err)
}

// Audit writes the audit entries f selects, newest first.
func Audit(ctx context.Context, cw *csv.Writer, svc *syncserver.Service, f syncserver.AuditFilter) error {
	err := row(cw, "id", "at", "actor", "action", "target_type", "target_id", "customer_id", "before", "after")
	if err == nil {
		err = svc.ExportAudit(ctx, f, func(e *syncserver.AuditEntry) error {
			return row(cw, strconv.FormatInt(e.ID, 10), ts(e.At), e.Actor, e.Action, e.TargetType, e.TargetID, e.CustomerID,
				string(e.Before), string(e.After))
		})
	}
	return finish(cw, err)
}

// Usage writes usage rows: period, feature, events, count.
func Usage(cw *csv.Writer, rows []syncserver.UsageRow) error {
	err := row(cw, "period", "feature", "events", "count")
	for _, u := range rows {
		if err != nil {
			break
		}
		err = row(cw, u.Period, u.Feature, strconv.FormatInt(u.Events, 10), strconv.FormatInt(u.Count, 10))
	}
	return finish(cw, err)
}
