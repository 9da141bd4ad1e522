package mail_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowlytix/licensing/internal/testenv"
	"github.com/flowlytix/licensing/internal/testkeys"
	"github.com/flowlytix/licensing/license"
	"github.com/flowlytix/licensing/syncserver"
	lmail "github.com/flowlytix/licensing/syncserver/mail"
)

// smtpServer is a real SMTP server (emersion/go-smtp) on a real listener:
// it keeps every message it accepts.
type smtpServer struct {
	mu   sync.Mutex
	msgs []received
	addr string
}

type received struct {
	from, to string
	data     []byte
}

type backend struct{ s *smtpServer }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s        *smtpServer
	from, to string
}

func (x *session) Reset()                                      {}
func (x *session) Logout() error                               { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error   { x.to = to; return nil }
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, received{x.from, x.to, b})
	x.s.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) *smtpServer {
	s := &smtpServer{}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.addr = ln.Addr().String()
	return s
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// parts reads a message's subject, text and HTML parts.
func parts(t *testing.T, data []byte) (subject, text, html string) {
	subject, text, html, _ = partsAll(t, data)
	return
}

// partsAll also returns the attachments, by file name.
func partsAll(t *testing.T, data []byte) (subject, text, html string, files map[string]string) {
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	require.NoError(t, err)
	dec := new(mime.WordDecoder)
	subject, err = dec.DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	files = map[string]string{}
	var walk func(ct string, body io.Reader)
	walk = func(ct string, body io.Reader) {
		_, params, err := mime.ParseMediaType(ct)
		require.NoError(t, err)
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			require.NoError(t, err)
			pct := p.Header.Get("Content-Type")
			if strings.HasPrefix(pct, "multipart/") {
				walk(pct, p)
				continue
			}
			b, err := io.ReadAll(p) // quoted-printable is undone by the reader
			require.NoError(t, err)
			switch {
			case p.FileName() != "":
				raw, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
				require.NoError(t, err)
				files[p.FileName()] = string(raw)
			case strings.HasPrefix(pct, "text/html"):
				html = string(b)
			default:
				text = string(b)
			}
		}
	}
	walk(m.Header.Get("Content-Type"), m.Body)
	return subject, text, html, files
}

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func service(t *testing.T, st syncserver.Store, m syncserver.Mailer, clk *clock) *syncserver.Service {
	svc, err := syncserver.New(syncserver.Config{Store: st, Keys: testkeys.Set(t), Mailer: m, Now: clk.now})
	require.NoError(t, err)
	return svc
}

func TestTheLicenseKeyAndTheRemindersArriveOnce(t *testing.T) {
	for _, store := range testenv.Stores {
		t.Run(store.Name, func(t *testing.T) {
			ctx := context.Background()
			srv := startSMTP(t)
			sender, err := lmail.New(lmail.Config{SMTPURL: "smtp://" + srv.addr, From: "licensing@vendor.example"})
			require.NoError(t, err)
			st := store.Open(t)
			clk := &clock{}
			clk.ns.Store(time.Now().UnixNano())
			a, b := service(t, st, sender, clk), service(t, st, sender, clk)

			yes := true
			name := "Team"
			plan, err := a.CreatePlan(ctx, "admin:t@example.com", syncserver.PlanInput{Name: &name, Tier: ptr("professional"), EmailLicenseKey: &yes, MaxDevices: ptr(3)})
			require.NoError(t, err)
			assert.Equal(t, []int{30, 7, 1}, plan.ReminderDays, "the default reminders")
			email, first := "ada@acme.example", "Ada"
			c, err := a.CreateCustomer(ctx, "admin:t@example.com", syncserver.CustomerInput{Email: &email, FirstName: &first})
			require.NoError(t, err)
			expires := clk.now().Add(5 * 24 * time.Hour)
			sub, err := a.CreateSubscription(ctx, "admin:t@example.com", syncserver.SubscriptionInput{CustomerID: c.ID, PlanID: plan.ID, ExpiresAt: expires})
			require.NoError(t, err)

			// The license key goes out, once, however many replicas send
			// at the same time.
			var wg sync.WaitGroup
			for i, svc := range []*syncserver.Service{a, b, a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.DispatchMail(ctx, fmt.Sprintf("replica-%d", i))
					assert.NoError(t, err)
				}()
			}
			wg.Wait()
			msgs := srv.messages()
			require.Len(t, msgs, 1)
			assert.Equal(t, email, msgs[0].to)
			subject, text, html := parts(t, msgs[0].data)
			assert.Contains(t, subject, "license key")
			assert.Contains(t, text, sub.LicenseKey)
			assert.Contains(t, text, "Hello Ada")
			assert.Contains(t, html, sub.LicenseKey)
			assert.Contains(t, html, "<strong>")

			// Five days before expiry: the 7-day reminder, once, from two
			// replicas and two runs; not the 30-day one too.
			for _, svc := range []*syncserver.Service{a, b, a, b} {
				_, err := svc.SendReminders(ctx)
				require.NoError(t, err)
			}
			for _, svc := range []*syncserver.Service{a, b} {
				_, err := svc.DispatchMail(ctx, "x")
				require.NoError(t, err)
			}
			msgs = srv.messages()
			require.Len(t, msgs, 2)
			subject, text, _ = parts(t, msgs[1].data)
			assert.Contains(t, subject, "expires in 5 days")
			assert.Contains(t, text, "Renew")

			// Half a day left: the 1-day one; then in grace: the grace one.
			clk.add(4*24*time.Hour + 12*time.Hour)
			_, err = a.SendReminders(ctx)
			require.NoError(t, err)
			clk.add(13 * time.Hour)
			_, err = b.SendReminders(ctx)
			require.NoError(t, err)
			_, err = a.SendReminders(ctx)
			require.NoError(t, err)
			_, err = a.DispatchMail(ctx, "x")
			require.NoError(t, err)
			msgs = srv.messages()
			require.Len(t, msgs, 4)
			subject, _, _ = parts(t, msgs[2].data)
			assert.Contains(t, subject, "expires in 1 day")
			subject, text, _ = parts(t, msgs[3].data)
			assert.Contains(t, subject, "expired")
			assert.Contains(t, text, "keeps working until")
			events, err := a.ListEvents(ctx, 0, []string{syncserver.EventSubscriptionExpiring}, 100)
			require.NoError(t, err)
			assert.Len(t, events, 3, "each reminder with its event")

			// Renewed: no reminder for the old date, none yet for the new.
			_, err = a.Renew(ctx, "admin:t@example.com", sub.ID, clk.now().AddDate(1, 0, 0))
			require.NoError(t, err)
			n, err := a.SendReminders(ctx)
			require.NoError(t, err)
			assert.Zero(t, n)

			// A reminder queued, then the subscription renewed before it
			// went (the mail server was away): it does not go.
			sub2, err := a.CreateSubscription(ctx, "admin:t@example.com", syncserver.SubscriptionInput{CustomerID: c.ID, Tier: "basic", MaxDevices: 1,
				ExpiresAt: clk.now().Add(3 * 24 * time.Hour)})
			require.NoError(t, err)
			n, err = a.SendReminders(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = a.Renew(ctx, "admin:t@example.com", sub2.ID, clk.now().AddDate(1, 0, 0))
			require.NoError(t, err)
			_, err = a.DispatchMail(ctx, "x")
			require.NoError(t, err)
			assert.Len(t, srv.messages(), 4, "the stale reminder was dropped")
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestWithoutSMTPMessagesGoToAFolderAndTemplatesCanBeReplaced(t *testing.T) {
	ctx := context.Background()
	dir, tpl := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tpl, "license_key.subject.tmpl"), []byte("Welcome to {{.product}}, {{.customer_name}}"), 0o600))
	sender, err := lmail.New(lmail.Config{Dir: dir, Templates: tpl})
	require.NoError(t, err)
	m := &syncserver.OutMail{ID: "m1", Kind: syncserver.MailLicenseKey, To: "ada@acme.example",
		Data: []byte(`{"product":"Editor","customer_name":"Ada","license_key":"FLX-ABCDE","plan":"Team","max_devices":3,"expires_at":"2027-12-31T00:00:00Z"}`)}
	require.NoError(t, sender.Send(ctx, m))
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	data, err := os.ReadFile(files[0])
	require.NoError(t, err)
	subject, text, _ := parts(t, data)
	assert.Equal(t, "Welcome to Editor, Ada", subject, "the vendor's subject")
	assert.Contains(t, text, "FLX-ABCDE", "the built-in body")
	assert.Contains(t, text, "31 December 2027")

	_, err = lmail.New(lmail.Config{SMTPURL: "http://mail.example.com"})
	assert.ErrorContains(t, err, "smtp://")
	_, err = lmail.New(lmail.Config{SMTPURL: "smtp://u:secret@:25"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret", "the password is never in a message")
}

func TestADeviceRefusedAndAnAirGappedFileAreTold(t *testing.T) {
	ctx := context.Background()
	srv := startSMTP(t)
	sender, err := lmail.New(lmail.Config{SMTPURL: "smtp://" + srv.addr})
	require.NoError(t, err)
	clk := &clock{}
	clk.ns.Store(time.Now().UnixNano())
	svc := service(t, testenv.SQLite(t), sender, clk)
	email := "it@acme.example"
	c, err := svc.CreateCustomer(ctx, "admin:t@example.com", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	sub, err := svc.CreateSubscription(ctx, "admin:t@example.com", syncserver.SubscriptionInput{CustomerID: c.ID, Tier: "basic", MaxDevices: 1,
		ExpiresAt: clk.now().AddDate(1, 0, 0)})
	require.NoError(t, err)

	// An air-gapped device's file is mailed to the customer, attached.
	req, err := license.NewRequest(sub.LicenseKey, "plant-3", "fp-plant-3", "windows/amd64", "5.0", clk.now())
	require.NoError(t, err)
	body, err := req.Encode()
	require.NoError(t, err)
	file, _, err := svc.OfflineActivate(ctx, "admin:t@example.com", body)
	require.NoError(t, err)

	// Two devices refused for want of a seat: one notice today.
	for _, d := range []string{"laptop", "desk"} {
		_, err := svc.Activate(ctx, syncserver.ActivateInput{LicenseKey: sub.LicenseKey, DeviceFingerprint: "fp-" + d, DeviceID: d, Platform: "linux/amd64", AppVersion: "1", Hostname: d + ".acme"})
		require.Error(t, err)
	}
	_, err = svc.DispatchMail(ctx, "x")
	require.NoError(t, err)
	msgs := srv.messages()
	require.Len(t, msgs, 2)
	subject, text, _, files := partsAll(t, msgs[0].data)
	assert.Contains(t, subject, "license file")
	assert.Contains(t, text, "plant-3")
	assert.Equal(t, string(file), files["plant-3.lic"], "the attachment is the file")
	subject, text, _ = parts(t, msgs[1].data)
	assert.Contains(t, subject, "seats are taken")
	assert.Contains(t, text, "laptop")
	assert.Contains(t, text, "at most once a day")
}

func TestAFailingMailServerLosesNothingAndSaysWhy(t *testing.T) {
	ctx := context.Background()
	sender, err := lmail.New(lmail.Config{SMTPURL: "smtp://127.0.0.1:9"}) // nothing listens
	require.NoError(t, err)
	clk := &clock{}
	clk.ns.Store(time.Now().UnixNano())
	st := testenv.SQLite(t)
	svc := service(t, st, sender, clk)
	email := "it@acme.example"
	c, err := svc.CreateCustomer(ctx, "admin:t@example.com", syncserver.CustomerInput{Email: &email})
	require.NoError(t, err)
	_, err = svc.CreateSubscription(ctx, "admin:t@example.com", syncserver.SubscriptionInput{CustomerID: c.ID, Tier: "basic", MaxDevices: 1,
		ExpiresAt: clk.now().Add(2 * 24 * time.Hour)})
	require.NoError(t, err)
	n, err := svc.SendReminders(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	sent, err := svc.DispatchMail(ctx, "x")
	require.NoError(t, err)
	assert.Zero(t, sent)
	msgs, err := svc.ListMail(ctx, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Nil(t, msgs[0].SentAt, "still waiting")
	assert.Equal(t, 1, msgs[0].Attempts)
	assert.NotEmpty(t, msgs[0].LastError, "and says why")
	assert.True(t, msgs[0].NextAttemptAt.After(clk.now()), "tried again later")

	// The server comes back (another sender over the same outbox): it goes.
	srv := startSMTP(t)
	ok, err := lmail.New(lmail.Config{SMTPURL: "smtp://" + srv.addr})
	require.NoError(t, err)
	later := service(t, st, ok, clk)
	clk.add(time.Hour)
	sent, err = later.DispatchMail(ctx, "y")
	require.NoError(t, err)
	assert.Equal(t, 1, sent)
	assert.Len(t, srv.messages(), 1)
}
