package syncserver_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlytix/licensing/internal/testenv"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
)

// auditFails is a store whose audit writes fail on demand, inside and
// outside transactions alike.
type auditFails struct {
	syncserver.Store
	fail *atomic.Bool
}

func (f auditFails) InTx(ctx context.Context, fn func(tx syncserver.Store) error) error {
	return f.Store.InTx(ctx, func(tx syncserver.Store) error { return fn(auditFails{tx, f.fail}) })
}

var errAuditRefused = errors.New("audit refused by the test")

func (f auditFails) AppendAudit(ctx context.Context, e *syncserver.AuditEntry) error {
	if f.fail.Load() {
		return errAuditRefused
	}
	return f.Store.AppendAudit(ctx, e)
}

// world is a service over a real SQLite store with one of everything an
// admin action can change.
type world struct {
	svc     *syncserver.Service
	st      syncserver.Store
	fail    *atomic.Bool
	keyDir  string
	cust    *syncserver.Customer
	sub     *syncserver.Subscription
	dev     *syncserver.Device
	blocked *syncserver.Device // a second device, blocked
	token   *syncserver.APIToken
	user    *syncserver.AdminUser
	signed  *syncserver.SignedIn
	req     []byte // an air-gapped machine's activation request
	nextKid string // a key in state next
}

const adminPassword = "correct horse battery staple"

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	st := testenv.SQLite(t)
	w := &world{st: st, fail: &atomic.Bool{}, keyDir: t.TempDir()}
	_, err := keys.WritePrivateKey(w.keyDir, testkeys.Signer(t).Signer().(*rsa.PrivateKey))
	require.NoError(t, err)
	ks, err := keys.LoadDir(w.keyDir)
	require.NoError(t, err)
	w.svc, err = syncserver.New(syncserver.Config{Store: auditFails{st, w.fail}, Keys: ks,
		KeyStore: &keys.Dir{Path: w.keyDir, Bits: keys.MinBits}})
	require.NoError(t, err)
	email := "owner@example.com"
	w.cust, err = w.svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	w.sub, err = w.svc.CreateSubscription(ctx, "test", syncserver.SubscriptionInput{CustomerID: w.cust.ID, Tier: "professional",
		Features: []string{"export"}, MaxDevices: 5, ExpiresAt: time.Now().AddDate(1, 0, 0)})
	require.NoError(t, err)
	act, err := w.svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: w.sub.LicenseKey, DeviceFingerprint: "fp-1",
		DeviceID: "11111111-1111-4111-8111-111111111111", Platform: "linux", AppVersion: "1.0.0", Hostname: "one"})
	require.NoError(t, err)
	w.dev = act.Device
	act, err = w.svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: w.sub.LicenseKey, DeviceFingerprint: "fp-5",
		DeviceID: "55555555-5555-4555-8555-555555555555", Platform: "linux", AppVersion: "1.0.0", Hostname: "five"})
	require.NoError(t, err)
	w.blocked, err = w.svc.BlockDevice(ctx, "test", act.Device.ID)
	require.NoError(t, err)
	_, w.token, err = w.svc.CreateAPIToken(ctx, "test", "ci")
	require.NoError(t, err)
	w.user, err = w.svc.CreateAdminUser(ctx, "test", "admin@example.com", adminPassword)
	require.NoError(t, err)
	w.signed, err = w.svc.SignIn(ctx, syncserver.SignInInput{Email: "admin@example.com", Password: adminPassword, Address: "192.0.2.1"})
	require.NoError(t, err)
	req, err := license.NewRequest(w.sub.LicenseKey, "22222222-2222-4222-8222-222222222222", "fp-2", "windows", "1.0.0", time.Now())
	require.NoError(t, err)
	w.req, err = req.Encode()
	require.NoError(t, err)
	next, _, err := (&keys.Dir{Path: w.keyDir, Bits: keys.MinBits}).Add()
	require.NoError(t, err)
	w.nextKid = next.ID
	_, err = w.svc.ReloadKeys(ctx)
	require.NoError(t, err)
	return w
}

// snapshot is everything an admin action may change, read from the store
// itself, and the signing keys.
func (w *world) snapshot(t *testing.T) string {
	ctx := context.Background()
	custs, _, err := w.st.ListCustomers(ctx, syncserver.CustomerFilter{})
	require.NoError(t, err)
	subs, _, err := w.st.ListSubscriptions(ctx, syncserver.SubscriptionFilter{})
	require.NoError(t, err)
	devs, _, err := w.st.ListDevices(ctx, syncserver.DeviceFilter{})
	require.NoError(t, err)
	files, _, err := w.st.ListLicenseFiles(ctx, syncserver.LicenseFileFilter{SubscriptionID: w.sub.ID})
	require.NoError(t, err)
	revs, _, err := w.st.RevocationsSince(ctx, 0, 1000)
	require.NoError(t, err)
	tokens, err := w.st.ListAPITokens(ctx)
	require.NoError(t, err)
	user, err := w.st.GetAdminUserByEmail(ctx, w.user.Email)
	require.NoError(t, err)
	sessions, err := w.st.ListUserSessions(ctx, w.user.ID)
	require.NoError(t, err)
	admins, err := w.st.CountAdminUsers(ctx)
	require.NoError(t, err)
	entries, err := os.ReadDir(w.keyDir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	active, _ := os.ReadFile(filepath.Join(w.keyDir, keys.ActiveFile))
	states, _ := os.ReadFile(filepath.Join(w.keyDir, keys.StateFile))
	active = append(active, states...)
	for i := range sessions {
		sessions[i].LastSeenAt = time.Time{} // reading a session touches it
	}
	notes, err := w.st.ListCustomerNotes(ctx, w.cust.ID, 100)
	require.NoError(t, err)
	return fmt.Sprintf("%+v\n%+v\n%+v\n%d files\n%+v\n%+v\n%s\n%+v\n%d admins\n%v %s\n%v\n%+v", custs, subs, devs, len(files), revs, tokens,
		user.PasswordHash, sessions, admins, names, active, w.svc.Keys().Keys(), notes)
}

// TestEveryAdminActionAuditsInItsTransaction: for each admin action, a
// failing audit write fails the action and leaves no trace of it; with the
// audit working, the same action changes what the snapshot sees (so the
// snapshot can tell).
func TestEveryAdminActionAuditsInItsTransaction(t *testing.T) {
	later := time.Now().AddDate(2, 0, 0)
	email := "new@example.com"
	cases := []struct {
		name string
		act  func(ctx context.Context, w *world) error
	}{
		{"customer.create", func(ctx context.Context, w *world) error {
			_, err := w.svc.CreateCustomer(ctx, "test", syncserver.CustomerInput{Email: &email})
			return err
		}},
		{"customer.update", func(ctx context.Context, w *world) error {
			_, err := w.svc.UpdateCustomer(ctx, "test", w.cust.ID, syncserver.CustomerInput{Email: &email})
			return err
		}},
		{"subscription.create", func(ctx context.Context, w *world) error {
			_, err := w.svc.CreateSubscription(ctx, "test", syncserver.SubscriptionInput{CustomerID: w.cust.ID, Tier: "basic",
				Features: []string{}, MaxDevices: 1, ExpiresAt: later})
			return err
		}},
		{"subscription.renew", func(ctx context.Context, w *world) error {
			_, err := w.svc.Renew(ctx, "test", w.sub.ID, later)
			return err
		}},
		{"subscription.update", func(ctx context.Context, w *world) error {
			seats := 9
			_, _, err := w.svc.ChangeTerms(ctx, "test", w.sub.ID, syncserver.TermsInput{MaxDevices: &seats}, "subscription.update")
			return err
		}},
		{"subscription.suspend", func(ctx context.Context, w *world) error {
			_, err := w.svc.ChangeStatus(ctx, "test", w.sub.ID, "suspend")
			return err
		}},
		{"subscription.revoke", func(ctx context.Context, w *world) error {
			_, err := w.svc.ChangeStatus(ctx, "test", w.sub.ID, "revoke")
			return err
		}},
		{"license_file.issue", func(ctx context.Context, w *world) error {
			_, err := w.svc.UnboundLicenseFile(ctx, "test", w.sub.ID)
			return err
		}},
		{"device.offline_activate", func(ctx context.Context, w *world) error {
			_, _, err := w.svc.OfflineActivate(ctx, "test", w.req)
			return err
		}},
		{"device.deactivate", func(ctx context.Context, w *world) error {
			_, err := w.svc.DeactivateDevice(ctx, "test", w.dev.ID)
			return err
		}},
		{"device.block", func(ctx context.Context, w *world) error {
			_, err := w.svc.BlockDevice(ctx, "test", w.dev.ID)
			return err
		}},
		{"api_token.create", func(ctx context.Context, w *world) error {
			_, _, err := w.svc.CreateAPIToken(ctx, "test", "another")
			return err
		}},
		{"api_token.revoke", func(ctx context.Context, w *world) error {
			return w.svc.RevokeAPIToken(ctx, "test", w.token.ID)
		}},
		{"key.add", func(ctx context.Context, w *world) error {
			_, err := w.svc.AddKey(ctx, "test")
			return err
		}},
		{"key.promote", func(ctx context.Context, w *world) error {
			_, err := w.svc.ChangeKey(ctx, "test", w.nextKid, "promote")
			return err
		}},
		{"key.retire", func(ctx context.Context, w *world) error {
			_, err := w.svc.ChangeKey(ctx, "test", w.nextKid, "retire")
			return err
		}},
		{"key.revoke", func(ctx context.Context, w *world) error {
			_, err := w.svc.ChangeKey(ctx, "test", w.nextKid, "revoke")
			return err
		}},
		{"admin.create", func(ctx context.Context, w *world) error {
			_, err := w.svc.CreateAdminUser(ctx, "test", "second@example.com", adminPassword)
			return err
		}},
		{"admin.sign_in", func(ctx context.Context, w *world) error {
			_, err := w.svc.SignIn(ctx, syncserver.SignInInput{Email: w.user.Email, Password: adminPassword, Address: "192.0.2.2"})
			return err
		}},
		{"admin.sign_out", func(ctx context.Context, w *world) error {
			return w.svc.SignOut(ctx, w.user, w.signed.Secret)
		}},
		{"admin.session_end", func(ctx context.Context, w *world) error {
			return w.svc.EndSession(ctx, w.user, w.signed.Session.IDHash)
		}},
		{"admin.sign_out_everywhere", func(ctx context.Context, w *world) error {
			_, err := w.svc.SignOutEverywhere(ctx, w.user)
			return err
		}},
		{"customer.note", func(ctx context.Context, w *world) error {
			_, err := w.svc.AddCustomerNote(ctx, "test", w.cust.ID, "Asked for an invoice.")
			return err
		}},
		{"customer.create", func(ctx context.Context, w *world) error { // an import, all in one transaction
			_, err := w.svc.ImportCustomers(ctx, "test", strings.NewReader("email,company_name\na@example.com,A\nb@example.com,B\n"))
			return err
		}},
		{"subscription.shorten", func(ctx context.Context, w *world) error {
			_, err := w.svc.Shorten(ctx, "test", w.sub.ID, w.sub.ExpiresAt.AddDate(0, -1, 0))
			return err
		}},
		{"subscription.renew", func(ctx context.Context, w *world) error { // in bulk
			_, err := w.svc.BulkExtend(ctx, "test", []string{w.sub.ID}, 30)
			return err
		}},
		{"subscription.suspend", func(ctx context.Context, w *world) error { // in bulk
			_, err := w.svc.BulkStatus(ctx, "test", []string{w.sub.ID}, "suspend")
			return err
		}},
		{"device.unblock", func(ctx context.Context, w *world) error {
			_, err := w.svc.UnblockDevice(ctx, "test", w.blocked.ID)
			return err
		}},
		{"admin.password_change", func(ctx context.Context, w *world) error {
			return w.svc.ChangePassword(ctx, w.user, "192.0.2.1", adminPassword, "a brand new passphrase 42")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			before := w.snapshot(t)
			w.fail.Store(true)
			err := tc.act(ctx, w)
			w.fail.Store(false)
			require.ErrorIs(t, err, errAuditRefused, "the action must fail when its audit entry cannot be written")
			assert.Equal(t, before, w.snapshot(t), "a failed audit write must roll the change back")

			require.NoError(t, tc.act(ctx, w), "the same action with a working audit")
			assert.NotEqual(t, before, w.snapshot(t), "the snapshot must see the change")
			entries, _, err := w.st.ListAudit(ctx, syncserver.AuditFilter{})
			require.NoError(t, err)
			require.NotEmpty(t, entries)
			assert.Equal(t, tc.name, entries[0].Action, "the newest audit entry names the action")
		})
	}
}
