// Package mail renders the server's messages from templates (embedded
// ones, each overridable from a directory) and sends them: over SMTP with
// github.com/wneessen/go-mail, configured by one URL (smtp:// or smtps://,
// with user and password), or, without one, into a folder as .eml files,
// so that make run shows them.
package mail

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/flowlytix/licensing/internal/poll"
	"github.com/flowlytix/licensing/syncserver"
)

//go:embed templates/*.tmpl
var builtin embed.FS

// Templates renders a message of a kind from KIND.subject.tmpl,
// KIND.txt.tmpl and KIND.html.tmpl (text/template, text/template and
// html/template), each taken from the override directory when it is there.
type Templates struct {
	dirs []fs.FS
}

// NewTemplates uses the built-in templates, and those in dir first (empty:
// none).
func NewTemplates(dir string) *Templates {
	t := &Templates{}
	if dir != "" {
		t.dirs = append(t.dirs, os.DirFS(dir))
	}
	sub, _ := fs.Sub(builtin, "templates")
	t.dirs = append(t.dirs, sub)
	return t
}

func (t *Templates) read(name string) (string, error) {
	for _, d := range t.dirs {
		if b, err := fs.ReadFile(d, name); err == nil {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("no template %s", name)
}

var funcs = map[string]any{
	// date shows an RFC 3339 time as a day, e.g. 31 December 2027.
	"date": func(v any) string {
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return t.UTC().Format("2 January 2006")
	},
}

// Rendered is a message ready to send.
type Rendered struct {
	Subject, Text, HTML string
	// File, when set, goes with the message as an attachment named
	// FileName: an air-gapped device's license file.
	File, FileName string
}

// Render renders a message of the outbox.
func (t *Templates) Render(m *syncserver.OutMail) (*Rendered, error) {
	var data map[string]any
	if err := json.Unmarshal(m.Data, &data); err != nil {
		return nil, fmt.Errorf("render %s: %w", m.Kind, err)
	}
	var out Rendered
	for _, part := range []struct {
		ext  string
		dst  *string
		html bool
	}{{"subject", &out.Subject, false}, {"txt", &out.Text, false}, {"html", &out.HTML, true}} {
		src, err := t.read(m.Kind + "." + part.ext + ".tmpl")
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", m.Kind, err)
		}
		var b bytes.Buffer
		if part.html {
			tpl, err := htmltemplate.New(part.ext).Funcs(funcs).Option("missingkey=zero").Parse(src)
			if err == nil {
				err = tpl.Execute(&b, data)
			}
			if err != nil {
				return nil, fmt.Errorf("render %s.%s: %w", m.Kind, part.ext, err)
			}
		} else {
			tpl, err := texttemplate.New(part.ext).Funcs(funcs).Option("missingkey=zero").Parse(src)
			if err == nil {
				err = tpl.Execute(&b, data)
			}
			if err != nil {
				return nil, fmt.Errorf("render %s.%s: %w", m.Kind, part.ext, err)
			}
		}
		*part.dst = b.String()
	}
	out.Subject = strings.TrimSpace(out.Subject)
	if f, ok := data["license_file"].(string); ok && f != "" {
		dev, _ := data["device_id"].(string)
		out.File, out.FileName = f, safeName(dev)+".lic"
	}
	return &out, nil
}

// safeName keeps a file name to letters, digits, - and _.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) == 0 || len(b) > 64 {
		return "license"
	}
	return string(b)
}

// Sender is the syncserver.Mailer: templates, then SMTP or a folder.
type Sender struct {
	templates *Templates
	from      string
	smtp      *gomail.Client // nil: write to dir
	dir       string
	log       *slog.Logger
}

// Config sets up a Sender.
type Config struct {
	// SMTPURL is smtp://user:pass@host:port (STARTTLS when the server
	// offers it) or smtps://... (TLS from the start); empty writes each
	// message to Dir instead.
	SMTPURL   string
	From      string
	Dir       string
	Templates string // a directory of overriding templates
	Log       *slog.Logger
}

// New makes a sender.
func New(cfg Config) (*Sender, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.From == "" {
		cfg.From = "licensing@localhost"
	}
	s := &Sender{templates: NewTemplates(cfg.Templates), from: cfg.From, dir: cfg.Dir, log: cfg.Log}
	if cfg.SMTPURL == "" {
		if s.dir == "" {
			return nil, errors.New("mail: neither an SMTP URL nor a folder to write messages to")
		}
		return s, nil
	}
	u, err := url.Parse(cfg.SMTPURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("--smtp-url: want smtp://user:pass@host:port or smtps://..., got %q", redact(cfg.SMTPURL))
	}
	opts := []gomail.Option{gomail.WithTimeout(20 * time.Second)}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("--smtp-url: port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pw, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	if s.smtp, err = gomail.NewClient(u.Hostname(), opts...); err != nil {
		return nil, fmt.Errorf("--smtp-url: %w", err)
	}
	return s, nil
}

// redact hides a URL's password, for messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL; if its password holds # / ? or %, write them %23 %2F %3F %25)"
	}
	if u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Send renders and sends one message.
func (s *Sender) Send(ctx context.Context, m *syncserver.OutMail) error {
	r, err := s.templates.Render(m)
	if err != nil {
		return err
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail from %q: %w", s.from, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail to %q: %w", m.To, err)
	}
	msg.Subject(r.Subject)
	msg.SetMessageIDWithValue(m.ID + "@flowlytix-licensing")
	msg.SetBodyString(gomail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.HTML)
	if r.File != "" {
		if err := msg.AttachReader(r.FileName, strings.NewReader(r.File)); err != nil {
			return fmt.Errorf("attach %s: %w", r.FileName, err)
		}
	}
	if s.smtp == nil {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return err
		}
		path := filepath.Join(s.dir, time.Now().UTC().Format("20060102-150405")+"-"+m.Kind+"-"+m.ID+".eml")
		if err := msg.WriteToFile(path); err != nil {
			return err
		}
		s.log.Info("mail written to a file (no --smtp-url)", "path", path, "to", m.To, "subject", r.Subject)
		return nil
	}
	return s.smtp.DialAndSendWithContext(ctx, msg)
}

// Run sends queued messages in the background until ctx ends, as owner.
func Run(ctx context.Context, svc *syncserver.Service, owner string, every time.Duration, log *slog.Logger) {
	poll.Run(ctx, every, log, "mail delivery", func(ctx context.Context) (int, error) { return svc.DispatchMail(ctx, owner) })
}
