package syncserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowlytix/licensing/internal/password"
)

// Session lifetimes: a sign-in ends at SessionLifetime whatever happens, and
// earlier after SessionIdleTimeout without a request.
const (
	DefaultSessionLifetime    = 12 * time.Hour
	DefaultSessionIdleTimeout = 30 * time.Minute
	// sessionTouchEvery bounds how often a session's last use is written:
	// the idle timeout is then exact to within this.
	sessionTouchEvery = time.Minute
	// MaxEmailBytes is the longest email address (RFC 5321's path limit).
	MaxEmailBytes = 254
)

// SignInInput is one sign-in attempt.
type SignInInput struct {
	Email     string
	Password  string
	Address   string // the client address, for throttling, audit and the session list
	UserAgent string
	// Presented is the session secret the browser sent with the attempt,
	// if any: signing in ends it, so a session planted before sign-in
	// never becomes an authenticated one.
	Presented string
}

// SignedIn is a new session: Secret goes into the cookie and is not kept.
type SignedIn struct {
	Secret  string
	Session *AdminSession
	User    *AdminUser
}

// normalEmail is how emails are compared and stored.
func normalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// SignIn checks an admin's email and password and starts a session. Wrong
// credentials are KindUnauthorized, whether the email or the password was
// wrong; too many failures from the client's address are KindRateLimited
// with RetryAfter. Every failed check and every sign-in is audited.
func (s *Service) SignIn(ctx context.Context, in SignInInput) (*SignedIn, error) {
	email := normalEmail(in.Email)
	// Refused before anything is stored: no email is longer, and the
	// password bound keeps a check's cost known.
	if len(email) > MaxEmailBytes || !utf8.ValidString(email) {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "an email address has at most %d characters", MaxEmailBytes)
	}
	if len(in.Password) > password.MaxBytes {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "a password has at most %d bytes", password.MaxBytes)
	}
	now := s.Now()
	att, wait := s.throttle.begin(email, in.Address, now)
	if att == nil {
		e := Errorf(KindRateLimited, CodeRateLimited, "too many failed sign-ins from your address: wait %d seconds and try again", int(wait.Seconds()))
		e.RetryAfter = wait
		return nil, e
	}
	u, err := s.store.GetAdminUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	ok, err := password.Verify(ctx, hash, in.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		target := ""
		if u != nil {
			target = u.ID
		}
		aerr := writeAudit(ctx, s.store, now, "anonymous", "admin.sign_in_failed", "admin_user", target, nil,
			map[string]any{"email": email, "address": in.Address, "known": u != nil})
		if aerr != nil {
			return nil, aerr
		}
		return nil, Errorf(KindUnauthorized, CodeUnauthorized, "wrong email or password")
	}
	s.throttle.succeeded(att)
	secret, err := newSessionSecret()
	if err != nil {
		return nil, err
	}
	sess := &AdminSession{IDHash: hashSecret(secret), UserID: u.ID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.sessionLifetime), Address: in.Address, UserAgent: cut(in.UserAgent, 200)}
	err = s.store.InTx(ctx, func(tx Store) error {
		if in.Presented != "" {
			if err := tx.DeleteSession(ctx, hashSecret(in.Presented)); err != nil {
				return err
			}
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := tx.TouchAdminLogin(ctx, u.ID, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, Actor("admin:"+u.Email), "admin.sign_in", "admin_user", u.ID, nil, map[string]any{"address": in.Address})
	})
	if err != nil {
		return nil, err
	}
	return &SignedIn{Secret: secret, Session: sess, User: u}, nil
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// newSessionSecret is a session secret: 256 random bits.
func newSessionSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Session authenticates a session secret: the session must exist, be
// within its lifetime and not idle past the idle timeout. Using it counts
// as activity. Any failure is KindUnauthorized, but for an outage.
func (s *Service) Session(ctx context.Context, secret string) (*AdminUser, *AdminSession, error) {
	unauthorized := Errorf(KindUnauthorized, CodeUnauthorized, "your session has ended: sign in again")
	if len(secret) < 40 || len(secret) > 64 {
		return nil, nil, unauthorized
	}
	h := hashSecret(secret)
	sess, err := s.store.GetSession(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, unauthorized
	}
	if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(sess.IDHash), []byte(h)) != 1 {
		return nil, nil, unauthorized
	}
	now := s.Now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.sessionIdle {
		// Ended: remove it now rather than wait for the job.
		if err := s.store.DeleteSession(ctx, h); err != nil {
			return nil, nil, err
		}
		return nil, nil, unauthorized
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		if err := s.store.TouchSession(ctx, h, now); err != nil {
			return nil, nil, err
		}
		sess.LastSeenAt = now
	}
	u, err := s.store.GetAdminUser(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, unauthorized
	}
	if err != nil {
		return nil, nil, err
	}
	return u, sess, nil
}

// SignOut ends the session with this secret.
func (s *Service) SignOut(ctx context.Context, u *AdminUser, secret string) error {
	return s.store.InTx(ctx, func(tx Store) error {
		if err := tx.DeleteSession(ctx, hashSecret(secret)); err != nil {
			return err
		}
		return s.audit(ctx, tx, Actor("admin:"+u.Email), "admin.sign_out", "admin_user", u.ID, nil, nil)
	})
}

// Sessions lists a user's live sessions, most recently used first.
func (s *Service) Sessions(ctx context.Context, u *AdminUser) ([]AdminSession, error) {
	all, err := s.store.ListUserSessions(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	live := all[:0]
	for _, x := range all {
		if now.Before(x.ExpiresAt) && now.Sub(x.LastSeenAt) < s.sessionIdle {
			live = append(live, x)
		}
	}
	return live, nil
}

// EndSession ends one of the user's own sessions, named by its id hash.
func (s *Service) EndSession(ctx context.Context, u *AdminUser, idHash string) error {
	return s.store.InTx(ctx, func(tx Store) error {
		sess, err := tx.GetSession(ctx, idHash)
		if err != nil || sess.UserID != u.ID {
			return Errorf(KindNotFound, CodeNotFound, "no such session of yours: it may have ended already")
		}
		if err := tx.DeleteSession(ctx, idHash); err != nil {
			return err
		}
		return s.audit(ctx, tx, Actor("admin:"+u.Email), "admin.session_end", "admin_user", u.ID, nil, map[string]any{"address": sess.Address})
	})
}

// SignOutEverywhere ends every session of the user, this one included, and
// returns how many ended.
func (s *Service) SignOutEverywhere(ctx context.Context, u *AdminUser) (int, error) {
	var n int
	err := s.store.InTx(ctx, func(tx Store) error {
		var err error
		if n, err = tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, Actor("admin:"+u.Email), "admin.sign_out_everywhere", "admin_user", u.ID, nil, map[string]any{"sessions": n})
	})
	return n, err
}

// ChangePassword replaces an admin's password after checking the current
// one (throttled like a sign-in) and the policy. Every session of the user
// ends in the same transaction: an old session must not survive a password
// change.
func (s *Service) ChangePassword(ctx context.Context, u *AdminUser, address, current, next string) error {
	att, wait := s.throttle.begin("password-change:"+u.ID, address, s.Now())
	if att == nil {
		e := Errorf(KindRateLimited, CodeRateLimited, "too many wrong passwords: wait %d seconds and try again", int(wait.Seconds()))
		e.RetryAfter = wait
		return e
	}
	ok, err := password.Verify(ctx, u.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.audit(ctx, s.store, Actor("admin:"+u.Email), "admin.password_change_failed", "admin_user", u.ID, nil, map[string]any{"address": address}); err != nil {
			return err
		}
		return Errorf(KindInvalid, CodeInvalidRequest, "the current password is wrong")
	}
	s.throttle.succeeded(att)
	if err := password.Check(ctx, next, u.Email, u.PasswordHash); err != nil {
		return policyError(err)
	}
	hash, err := password.Hash(next)
	if err != nil {
		return policyError(err)
	}
	return s.store.InTx(ctx, func(tx Store) error {
		if err := tx.UpdateAdminPassword(ctx, u.ID, hash, s.Now()); err != nil {
			return err
		}
		n, err := tx.DeleteUserSessions(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("end sessions after a password change: %w", err)
		}
		return s.audit(ctx, tx, Actor("admin:"+u.Email), "admin.password_change", "admin_user", u.ID, nil,
			map[string]any{"address": address, "sessions_ended": n})
	})
}

func policyError(err error) error {
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		return &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Message: pe.Reason, Err: err}
	}
	return err
}

// CreateAdminUser makes an admin who can sign in to the web admin, after
// the password policy.
func (s *Service) CreateAdminUser(ctx context.Context, actor Actor, email, pw string) (*AdminUser, error) {
	return CreateAdminUser(ctx, s.store, s.Now(), actor, email, pw)
}

// CreateAdminUser makes an admin in st, for when no Service runs (licensed
// admin create, make run's first admin).
func CreateAdminUser(ctx context.Context, st Store, now time.Time, actor Actor, email, pw string) (*AdminUser, error) {
	email = normalEmail(email)
	if !strings.Contains(email, "@") || len(email) > MaxEmailBytes {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "want an email address of at most %d characters", MaxEmailBytes)
	}
	if err := password.Check(ctx, pw, email, ""); err != nil {
		return nil, policyError(err)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return nil, policyError(err)
	}
	u := &AdminUser{Email: email, PasswordHash: hash, CreatedAt: now}
	err = st.InTx(ctx, func(tx Store) error {
		if err := tx.CreateAdminUser(ctx, u); err != nil {
			return err
		}
		return writeAudit(ctx, tx, now, actor, "admin.create", "admin_user", u.ID, nil, map[string]any{"email": u.Email})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// PruneSessions deletes ended sessions (the sessions job).
func (s *Service) PruneSessions(ctx context.Context) (int, error) {
	now := s.Now()
	return s.store.PruneSessions(ctx, now, now.Add(-s.sessionIdle))
}

// SessionIdleTimeout is how long a session lasts without a request.
func (s *Service) SessionIdleTimeout() time.Duration { return s.sessionIdle }

// SessionLifetime is how long a session lasts at most.
func (s *Service) SessionLifetime() time.Duration { return s.sessionLifetime }

// SubscriptionByLicenseKey finds the subscription a license key names
// (compared in constant time by the store); the web admin's search uses it.
func (s *Service) SubscriptionByLicenseKey(ctx context.Context, key string) (*Subscription, error) {
	sub, err := s.store.GetSubscriptionByLicenseKey(ctx, key)
	return s.shown(sub), err
}

// CountAdminUsers is how many admins can sign in to the web admin.
func (s *Service) CountAdminUsers(ctx context.Context) (int, error) {
	return s.store.CountAdminUsers(ctx)
}
