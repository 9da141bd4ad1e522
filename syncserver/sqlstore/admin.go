package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// CreateAdminUser stores u; the email is kept lowercased and unique.
func (s *Store) CreateAdminUser(ctx context.Context, u *syncserver.AdminUser) error {
	if u.ID == "" {
		u.ID = newID()
	}
	if err := given("create admin user", u.CreatedAt); err != nil {
		return err
	}
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	_, err := s.writer().ExecContext(ctx, `INSERT INTO admin_users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
		u.ID, u.Email, u.PasswordHash, s.t(u.CreatedAt))
	if s.d.IsUniqueViolation(err) {
		return syncserver.Errorf(syncserver.KindConflict, syncserver.CodeConflict, "an admin with email %s already exists", u.Email)
	}
	return s.dbErr("create admin user", err)
}

const adminCols = "id, email, password_hash, created_at, last_login_at"

func (s *Store) getAdmin(ctx context.Context, col, v string) (*syncserver.AdminUser, error) {
	var u syncserver.AdminUser
	err := s.reader().QueryRowContext(ctx, `SELECT `+adminCols+` FROM admin_users WHERE `+col+` = $1`, v).
		Scan(&u.ID, &u.Email, &u.PasswordHash, tm(&u.CreatedAt), tmn(&u.LastLoginAt))
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "admin user not found")
	}
	if err != nil {
		return nil, s.dbErr("get admin user", err)
	}
	return &u, nil
}

// GetAdminUserByEmail finds an admin by email, case-insensitively.
func (s *Store) GetAdminUserByEmail(ctx context.Context, email string) (*syncserver.AdminUser, error) {
	return s.getAdmin(ctx, "email", strings.ToLower(strings.TrimSpace(email)))
}

// GetAdminUser finds an admin by id.
func (s *Store) GetAdminUser(ctx context.Context, id string) (*syncserver.AdminUser, error) {
	return s.getAdmin(ctx, "id", id)
}

// UpdateAdminPassword stores a new password hash.
func (s *Store) UpdateAdminPassword(ctx context.Context, id, hash string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE admin_users SET password_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, s.t(at))
	if err != nil {
		return s.dbErr("update admin password", err)
	}
	return mustAffect(res, "admin user", id)
}

// TouchAdminLogin records a sign-in.
func (s *Store) TouchAdminLogin(ctx context.Context, id string, at time.Time) error {
	_, err := s.writer().ExecContext(ctx, `UPDATE admin_users SET last_login_at = $2 WHERE id = $1`, id, s.t(at))
	return s.dbErr("touch admin login", err)
}

// CountAdminUsers counts admins.
func (s *Store) CountAdminUsers(ctx context.Context) (int, error) {
	return s.count(ctx, "admin_users", where{}, 0)
}

// CreateSession stores a session by the hash of its secret.
func (s *Store) CreateSession(ctx context.Context, x *syncserver.AdminSession) error {
	if x.LastSeenAt.IsZero() {
		x.LastSeenAt = x.CreatedAt
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO admin_sessions (id_hash, user_id, created_at, expires_at, last_seen_at, address, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		x.IDHash, x.UserID, s.t(x.CreatedAt), s.t(x.ExpiresAt), s.t(x.LastSeenAt), x.Address, x.UserAgent)
	return s.dbErr("create session", err)
}

const sessionCols = "id_hash, user_id, created_at, expires_at, last_seen_at, address, user_agent"

func scanSession(row scanner, x *syncserver.AdminSession) error {
	return row.Scan(&x.IDHash, &x.UserID, tm(&x.CreatedAt), tm(&x.ExpiresAt), tm(&x.LastSeenAt), &x.Address, &x.UserAgent)
}

// GetSession finds a session by the hash of its secret.
func (s *Store) GetSession(ctx context.Context, idHash string) (*syncserver.AdminSession, error) {
	var x syncserver.AdminSession
	err := scanSession(s.reader().QueryRowContext(ctx, `SELECT `+sessionCols+` FROM admin_sessions WHERE id_hash = $1`, idHash), &x)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "session not found")
	}
	if err != nil {
		return nil, s.dbErr("get session", err)
	}
	return &x, nil
}

// ListUserSessions lists a user's sessions, most recently used first.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]syncserver.AdminSession, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+sessionCols+` FROM admin_sessions WHERE user_id = $1 ORDER BY last_seen_at DESC, id_hash LIMIT 500`, userID)
	if err != nil {
		return nil, s.dbErr("list sessions", err)
	}
	defer rows.Close()
	out := []syncserver.AdminSession{}
	for rows.Next() {
		var x syncserver.AdminSession
		if err := scanSession(rows, &x); err != nil {
			return nil, s.dbErr("list sessions", err)
		}
		out = append(out, x)
	}
	return out, s.dbErr("list sessions", rows.Err())
}

// TouchSession records that a session was used.
func (s *Store) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	_, err := s.writer().ExecContext(ctx, `UPDATE admin_sessions SET last_seen_at = $2 WHERE id_hash = $1`, idHash, s.t(at))
	return s.dbErr("touch session", err)
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.writer().ExecContext(ctx, `DELETE FROM admin_sessions WHERE id_hash = $1`, idHash)
	return s.dbErr("delete session", err)
}

// DeleteUserSessions ends every session of a user and returns how many.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM admin_sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, s.dbErr("delete sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), s.dbErr("delete sessions", err)
}

// PruneSessions deletes sessions past their absolute expiry (expires_at
// at or before now) or idle since before idleBefore, and returns how many.
func (s *Store) PruneSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at < $2`, s.t(now), s.t(idleBefore))
	if err != nil {
		return 0, s.dbErr("prune sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), s.dbErr("prune sessions", err)
}

const tokenCols = "id, name, token_hash, created_at, last_used_at, revoked_at"

func scanToken(row scanner, t *syncserver.APIToken) error {
	return row.Scan(&t.ID, &t.Name, &t.Hash, tm(&t.CreatedAt), tmn(&t.LastUsedAt), tmn(&t.RevokedAt))
}

// CreateAPIToken stores a token by its hash.
func (s *Store) CreateAPIToken(ctx context.Context, t *syncserver.APIToken) error {
	if t.ID == "" {
		t.ID = newID()
	}
	if err := given("create API token", t.CreatedAt); err != nil {
		return err
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)`,
		t.ID, t.Name, t.Hash, s.t(t.CreatedAt))
	return s.dbErr("create api token", err)
}

// GetAPITokenByHash finds a live (not revoked) token by its hash.
func (s *Store) GetAPITokenByHash(ctx context.Context, hash string) (*syncserver.APIToken, error) {
	var t syncserver.APIToken
	err := scanToken(s.reader().QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hash), &t)
	if err == sql.ErrNoRows {
		return nil, syncserver.Errorf(syncserver.KindNotFound, syncserver.CodeNotFound, "api token not found")
	}
	if err != nil {
		return nil, s.dbErr("get api token", err)
	}
	return &t, nil
}

// ListAPITokens lists every token, newest first.
func (s *Store) ListAPITokens(ctx context.Context) ([]syncserver.APIToken, error) {
	return queryAll(ctx, s, "list api tokens", `SELECT `+tokenCols+` FROM api_tokens ORDER BY created_at DESC, id`, nil, scanToken)
}

// RevokeAPIToken revokes a token for good.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, s.t(at))
	if err != nil {
		return s.dbErr("revoke api token", err)
	}
	return mustAffect(res, "live api token", id)
}

// TouchAPIToken records a use of a token.
func (s *Store) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.writer().ExecContext(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, s.t(at))
	return s.dbErr("touch api token", err)
}

// AppendAudit records an admin change.
func (s *Store) AppendAudit(ctx context.Context, e *syncserver.AuditEntry) error {
	if err := given("append audit entry", e.At); err != nil {
		return err
	}
	raw := func(b []byte) any {
		if len(b) == 0 {
			return nil
		}
		return string(b)
	}
	// The customer is looked up here, in the change's transaction, so that
	// every caller's entry names it without knowing how.
	err := s.writer().QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, action, target_type, target_id, before, after, customer_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE(CASE $4
			WHEN 'customer' THEN $5
			WHEN 'subscription' THEN (SELECT customer_id FROM subscriptions WHERE id = $5)
			WHEN 'device' THEN (SELECT s.customer_id FROM devices d JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $5)
		END, '')) RETURNING id, customer_id`,
		s.t(e.At), e.Actor, e.Action, e.TargetType, e.TargetID, raw(e.Before), raw(e.After)).Scan(&e.ID, &e.CustomerID)
	return s.dbErr("append audit", err)
}

// ListAudit lists audit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, f syncserver.AuditFilter) ([]syncserver.AuditEntry, int, error) {
	w := where{}
	if f.TargetType != "" {
		w.add("target_type = $#", f.TargetType)
	}
	if f.TargetID != "" {
		w.add("target_id = $#", f.TargetID)
	}
	if f.Actor != "" {
		w.add("actor = $#", f.Actor)
	}
	if f.Action != "" {
		w.add("action = $#", f.Action)
	}
	if f.CustomerID != "" {
		w.add("customer_id = $#", f.CustomerID)
	}
	if !f.From.IsZero() {
		w.add("at >= $#", s.t(f.From))
	}
	if !f.To.IsZero() {
		w.add("at < $#", s.t(f.To))
	}
	if f.BeforeID > 0 {
		w.add("id < $#", f.BeforeID)
	}
	return page(ctx, s, "list audit", auditCols, "audit_log", w, "id DESC", f.Page, scanAudit)
}

const auditCols = "id, at, actor, action, target_type, target_id, customer_id, COALESCE(before, ''), COALESCE(after, '')"

func scanAudit(row scanner, e *syncserver.AuditEntry) error {
	var before, after string
	if err := row.Scan(&e.ID, tm(&e.At), &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &e.CustomerID, &before, &after); err != nil {
		return err
	}
	if before != "" {
		e.Before = []byte(before)
	}
	if after != "" {
		e.After = []byte(after)
	}
	return nil
}
