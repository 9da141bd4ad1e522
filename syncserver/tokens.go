package syncserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// APITokenPrefix starts every admin API token, so that a leaked one is easy
// to recognise (and to scan for).
const APITokenPrefix = "flx_"

// CreateAPIToken makes an admin API token. The token itself is returned
// once; only its hash is stored.
func (s *Service) CreateAPIToken(ctx context.Context, actor Actor, name string) (string, *APIToken, error) {
	return CreateAPIToken(ctx, s.store, s.Now(), actor, name)
}

// CreateAPIToken makes an admin API token in st, for when no Service runs
// (licensed token create).
func CreateAPIToken(ctx context.Context, st Store, now time.Time, actor Actor, name string) (string, *APIToken, error) {
	name = strings.TrimSpace(name)
	if err := checkField("name", name, true, 100); err != nil {
		return "", nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	secret := APITokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := &APIToken{Name: name, Hash: hashSecret(secret), CreatedAt: now}
	err := st.InTx(ctx, func(tx Store) error {
		if err := tx.CreateAPIToken(ctx, t); err != nil {
			return err
		}
		return writeAudit(ctx, tx, now, actor, "api_token.create", "api_token", t.ID, nil, map[string]any{"name": t.Name})
	})
	return secret, t, err
}

// RevokeAPIToken revokes a token.
func (s *Service) RevokeAPIToken(ctx context.Context, actor Actor, id string) error {
	return s.store.InTx(ctx, func(tx Store) error {
		if err := tx.RevokeAPIToken(ctx, id, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "api_token.revoke", "api_token", id, nil, nil)
	})
}

// AuthenticateToken checks a bearer token: found by its hash, then
// compared in constant time.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*APIToken, error) {
	unauthorized := Errorf(KindUnauthorized, CodeUnauthorized, "a valid admin API token is required")
	if !strings.HasPrefix(secret, APITokenPrefix) || len(secret) > 200 {
		return nil, unauthorized
	}
	h := hashSecret(secret)
	t, err := s.store.GetAPITokenByHash(ctx, h)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, unauthorized
		}
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return nil, unauthorized
	}
	// Remember the use at most once a minute, and never fail the request
	// for it: the token is good either way.
	if now := s.Now(); t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		_ = s.store.TouchAPIToken(ctx, t.ID, now)
	}
	return t, nil
}
