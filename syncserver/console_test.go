package syncserver_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/syncserver"
)

// A service over SQLite with a clock the test moves.
type console struct {
	svc *syncserver.Service
	st  syncserver.Store
	now time.Time
}

func newConsole(t testing.TB) *console {
	c := &console{st: testenv.SQLite(t), now: time.Now().UTC().Truncate(time.Second)}
	var err error
	c.svc, err = syncserver.New(syncserver.Config{Store: c.st, Keys: testkeys.Set(t), Now: func() time.Time { return c.now }})
	require.NoError(t, err)
	return c
}

func (c *console) subscription(t *testing.T, seats int) *syncserver.Subscription {
	email := strings.ToLower(t.Name()[len(t.Name())-8:]) + time.Now().Format("150405.000000") + "@example.com"
	cust, err := c.svc.CreateCustomer(context.Background(), "test", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	sub, err := c.svc.CreateSubscription(context.Background(), "test", syncserver.SubscriptionInput{CustomerID: cust.ID, Tier: "professional",
		Features: []string{"export"}, MaxDevices: seats, ExpiresAt: c.now.AddDate(1, 0, 0)})
	require.NoError(t, err)
	return sub
}

func (c *console) audits(t *testing.T, action, id string) int {
	_, n, err := c.svc.ListAudit(context.Background(), syncserver.AuditFilter{Action: action, TargetID: id})
	require.NoError(t, err)
	return n
}

func field(t *testing.T, err error) (syncserver.Kind, string) {
	t.Helper()
	var de *syncserver.Error
	require.True(t, errors.As(err, &de), "want a domain error, got %v", err)
	return de.Kind, de.Field
}

func TestRenewalsOnlyMoveTheExpiryLater(t *testing.T) {
	ctx := context.Background()
	c := newConsole(t)
	sub := c.subscription(t, 2)

	for name, at := range map[string]time.Time{"earlier": sub.ExpiresAt.AddDate(0, -1, 0), "in the past": c.now.AddDate(0, 0, -2)} {
		_, err := c.svc.Renew(ctx, "test", sub.ID, at)
		kind, f := field(t, err)
		assert.Equal(t, syncserver.KindConflict, kind, name)
		assert.Equal(t, "expires_at", f, name)
	}
	got, changed, err := c.svc.ChangeTerms(ctx, "test", sub.ID, syncserver.TermsInput{ExpiresAt: &sub.ExpiresAt}, "subscription.renew")
	require.NoError(t, err)
	assert.False(t, changed, "renewing to the current expiry changes nothing")
	assert.Equal(t, sub.Revision, got.Revision)
	assert.Zero(t, c.audits(t, "subscription.renew", sub.ID), "and audits nothing")

	later := sub.ExpiresAt.AddDate(1, 0, 0)
	got, err = c.svc.Renew(ctx, "test", sub.ID, later)
	require.NoError(t, err)
	assert.Equal(t, later, got.ExpiresAt)
	assert.Equal(t, 1, c.audits(t, "subscription.renew", sub.ID))

	// Shortening is its own action, only earlier, and may end it now.
	_, err = c.svc.Shorten(ctx, "test", sub.ID, later.AddDate(0, 1, 0))
	kind, f := field(t, err)
	assert.Equal(t, []any{syncserver.KindInvalid, "expires_at"}, []any{kind, f})
	c.now = c.now.AddDate(0, 0, 10)
	_, err = c.svc.Shorten(ctx, "test", sub.ID, sub.StartsAt.Add(-time.Hour))
	kind, f = field(t, err)
	assert.Equal(t, []any{syncserver.KindInvalid, "expires_at"}, []any{kind, f}, "not before its start")
	got, err = c.svc.Shorten(ctx, "test", sub.ID, c.now.AddDate(0, 0, -1))
	require.NoError(t, err)
	assert.Equal(t, syncserver.SubscriptionGrace, got.Status, "shortened to yesterday: in grace at once, not active")
	assert.Equal(t, 1, c.audits(t, "subscription.shorten", sub.ID))
}

func TestStatusesAreShownAsOfNow(t *testing.T) {
	ctx := context.Background()
	c := newConsole(t)
	sub := c.subscription(t, 1)
	for _, step := range []struct {
		move time.Duration
		want string
	}{{0, "active"}, {366 * 24 * time.Hour, "grace"}, {14 * 24 * time.Hour, "expired"}} {
		c.now = c.now.Add(step.move)
		got, err := c.svc.GetSubscription(ctx, sub.ID)
		require.NoError(t, err)
		assert.Equal(t, step.want, got.Status)
		list, total, err := c.svc.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Status: step.want})
		require.NoError(t, err)
		assert.Equal(t, 1, total, step.want)
		assert.Equal(t, step.want, list[0].Status)
	}
	_, _, err := c.svc.ListSubscriptions(ctx, syncserver.SubscriptionFilter{Status: "lapsed"})
	kind, _ := field(t, err)
	assert.Equal(t, syncserver.KindInvalid, kind)
}

func TestSeatsBelowTheDevicesHoldingThemNeedConsent(t *testing.T) {
	ctx := context.Background()
	c := newConsole(t)
	sub := c.subscription(t, 3)
	for _, d := range []string{"a", "b"} {
		_, err := c.svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprint: "fp-" + d, DeviceID: d, Platform: "linux", AppVersion: "1"})
		require.NoError(t, err)
	}
	one := 1
	_, _, err := c.svc.ChangeTerms(ctx, "test", sub.ID, syncserver.TermsInput{MaxDevices: &one}, "subscription.change")
	kind, f := field(t, err)
	assert.Equal(t, []any{syncserver.KindConflict, "max_devices"}, []any{kind, f})
	assert.Contains(t, err.Error(), "2 devices hold seats")
	got, changed, err := c.svc.ChangeTerms(ctx, "test", sub.ID, syncserver.TermsInput{MaxDevices: &one, AllowBelowActive: true}, "subscription.change")
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, []int{2, 1}, []int{got.ActiveDevices, got.MaxDevices})
	_, err = c.svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprint: "fp-c", DeviceID: "c", Platform: "linux", AppVersion: "1"})
	assert.ErrorIs(t, err, &syncserver.Error{Kind: syncserver.KindConflict, Code: syncserver.CodeDeviceLimit}, "no new device while over")
}

func TestClearingTheFeaturesClearsThem(t *testing.T) {
	ctx := context.Background()
	c := newConsole(t)
	sub := c.subscription(t, 1)
	got, changed, err := c.svc.ChangeTerms(ctx, "test", sub.ID, syncserver.TermsInput{Features: []string{}}, "subscription.change")
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Empty(t, got.Features)
	assert.Greater(t, got.Revision, sub.Revision, "devices get a file without the feature")
	_, changed, err = c.svc.ChangeTerms(ctx, "test", sub.ID, syncserver.TermsInput{Features: []string{}}, "subscription.change")
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, 1, c.audits(t, "subscription.change", sub.ID), "the second save wrote nothing")
}

func TestBulkChangesReportWhatTheyCouldNotDo(t *testing.T) {
	ctx := context.Background()
	c := newConsole(t)
	a, b, gone := c.subscription(t, 1), c.subscription(t, 1), c.subscription(t, 1)
	_, err := c.svc.ChangeStatus(ctx, "test", gone.ID, "revoke")
	require.NoError(t, err)
	res, err := c.svc.BulkExtend(ctx, "test", []string{a.ID, b.ID, gone.ID, "no-such-id"}, 30)
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID, b.ID}, res.Done)
	assert.Len(t, res.Failed, 2)
	assert.Contains(t, res.Failed[gone.ID], "revoked")
	got, err := c.svc.GetSubscription(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.ExpiresAt.AddDate(0, 0, 30), got.ExpiresAt)

	res, err = c.svc.BulkStatus(ctx, "test", []string{a.ID, gone.ID}, "suspend")
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID}, res.Done)
	_, err = c.svc.BulkStatus(ctx, "test", []string{a.ID}, "revoke")
	assert.Error(t, err, "revoking is one at a time")
	_, err = c.svc.BulkExtend(ctx, "test", nil, 30)
	assert.Error(t, err)
	_, err = c.svc.BulkExtend(ctx, "test", []string{a.ID}, 0)
	assert.Error(t, err)
}

func TestImportingCustomersIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	c := newConsole(t)
	existing := "old@example.com"
	_, err := c.svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &existing})
	require.NoError(t, err)

	for name, tc := range map[string]struct{ file, want string }{
		"bad lines":       {"email,company_name\nok@example.com,A\nnot-an-email,B\n,C\nok@example.com,D\n", "line 3: email \"not-an-email\" is not an email address; line 4: no email; line 5: ok@example.com is also on line 2"},
		"no email":        {"name,company\nAda,A\n", "names no email column"},
		"empty":           {"", "the file is empty"},
		"only a header":   {"email\n", "no customers"},
		"not CSV":         {"email\n\"unterminated\n", "not CSV"},
		"control in name": {"email,company_name\nx@example.com,\"A\x00B\"\n", "control character"},
	} {
		_, err := c.svc.ImportCustomers(ctx, "test", strings.NewReader(tc.file))
		require.Error(t, err, name)
		kind, f := field(t, err)
		assert.Equal(t, []any{syncserver.KindInvalid, "file"}, []any{kind, f}, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
	_, total, err := c.svc.ListCustomers(ctx, syncserver.CustomerFilter{})
	require.NoError(t, err)
	assert.Equal(t, 1, total, "a refused file imports nothing")

	res, err := c.svc.ImportCustomers(ctx, "test", strings.NewReader("\ufeffEmail,Company,First_Name,last_name\r\nnew@example.com,New Co,Ada,Lovelace\r\nOLD@example.com,Old Co,,\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Created)
	assert.Equal(t, []string{"OLD@example.com"}, res.Skipped, "an existing customer is skipped, in any case")
	got, err := c.st.GetCustomerByEmail(ctx, "new@example.com")
	require.NoError(t, err)
	assert.Equal(t, []string{"New Co", "Ada", "Lovelace"}, []string{got.CompanyName, got.FirstName, got.LastName})
}

func TestNotesAndSearch(t *testing.T) {
	ctx := context.Background()
	c := newConsole(t)
	sub := c.subscription(t, 2)
	for _, body := range []string{"", "  ", strings.Repeat("x", syncserver.MaxNoteBytes+1), "a\x00b"} {
		_, err := c.svc.AddCustomerNote(ctx, "test", sub.CustomerID, body)
		kind, f := field(t, err)
		assert.Equal(t, []any{syncserver.KindInvalid, "body"}, []any{kind, f}, "%q", body)
	}
	_, err := c.svc.AddCustomerNote(ctx, "test", "no-such-customer", "hello")
	assert.ErrorIs(t, err, syncserver.ErrNotFound)
	n, err := c.svc.AddCustomerNote(ctx, "admin:ada@example.com", sub.CustomerID, "  Wants\nmore seats.  ")
	require.NoError(t, err)
	assert.Equal(t, "Wants\nmore seats.", n.Body)

	act, err := c.svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprint: "fp", DeviceID: "Render-Node-3", Platform: "linux", AppVersion: "1", Hostname: "render3.studio.lan"})
	require.NoError(t, err)
	for q, want := range map[string][3]int{ // customers, subscriptions, devices
		strings.ToLower(sub.LicenseKey[:10]): {0, 1, 0},
		"render-node":                        {0, 0, 1},
		"RENDER3.STUDIO":                     {0, 0, 1},
		act.Device.FingerprintSHA256:         {0, 0, 1},
		sub.CustomerID:                       {1, 1, 0},
		"nothing-like-this":                  {0, 0, 0},
	} {
		r, err := c.svc.Search(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, want, [3]int{len(r.Customers), len(r.Subscriptions), len(r.Devices)}, "search %q", q)
	}
}

// FuzzImportCustomers: whatever the file, an import either refuses it,
// saying so on the file field and storing nothing, or stores exactly the
// customers it reports.
func FuzzImportCustomers(f *testing.F) {
	for _, seed := range []string{
		"email,company_name\na@example.com,A\n",
		"email\n\"unterminated\n",
		"\ufeffEmail,Company\r\nb@example.com,\"B, Inc\"\r\n",
		"email,first_name\n=cmd@example.com,x\n,\n",
		"",
		"email\na@example.com\na@example.com\n",
	} {
		f.Add(seed)
	}
	c := newConsole(f)
	f.Fuzz(func(t *testing.T, file string) {
		ctx := context.Background()
		_, before, err := c.svc.ListCustomers(ctx, syncserver.CustomerFilter{})
		require.NoError(t, err)
		res, err := c.svc.ImportCustomers(ctx, "fuzz", strings.NewReader(file))
		_, after, lerr := c.svc.ListCustomers(ctx, syncserver.CustomerFilter{})
		require.NoError(t, lerr)
		if err != nil {
			var de *syncserver.Error
			require.True(t, errors.As(err, &de), "a refusal is a domain error: %v", err)
			assert.Equal(t, "file", de.Field)
			assert.Equal(t, before, after, "a refused file stores nothing")
			return
		}
		assert.Equal(t, before+res.Created, after, "it stores what it reports")
	})
}
