package syncserver

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

// KeyStore keeps the signing keys and their states where every replica
// reads them: keys.Dir, a key directory on a volume the replicas share. A
// private key never goes into the database.
type KeyStore interface {
	// Load reads the keys and their states.
	Load() (*keys.Set, error)
	// Add makes a new key in state next; undo removes it.
	Add() (k *keys.Key, undo func() error, err error)
	// SetState moves a key to active (promote), retired or revoked; undo
	// restores the states as they were.
	SetState(kid string, state keys.State) (undo func() error, err error)
	// SetEndorsement keeps a root's endorsement of a key beside it.
	SetEndorsement(kid, endorsement string) (undo func() error, err error)
	// SetRootRevocation keeps a root's revocation statement of a key.
	SetRootRevocation(kid, statement string) (undo func() error, err error)
}

// KeyInfo is a signing key as the admin sees it.
type KeyInfo struct {
	Kid       string          `json:"kid"`
	State     keys.State      `json:"state"`
	Bits      int             `json:"bits"`
	CanSign   bool            `json:"can_sign"` // this server holds its private key
	Created   *time.Time      `json:"created_at,omitempty"`
	Promoted  *time.Time      `json:"promoted_at,omitempty"`
	Retired   *time.Time      `json:"retired_at,omitempty"`
	Revoked   *time.Time      `json:"revoked_at,omitempty"`
	LiveFiles int             `json:"live_files"` // files it signed that have not expired
	PublicJWK json.RawMessage `json:"public_jwk"`
	// Endorsement is the root's endorsement of the key, which every file
	// it signs carries; empty when it has none.
	Endorsement string `json:"endorsement,omitempty"`
	// RootRevocation is the root's statement that the key is revoked,
	// which every app learns on its next sync.
	RootRevocation string `json:"root_revocation,omitempty"`
}

// TrustsRoot reports whether this server takes a root's endorsements and
// key revocations (licensed --root-jwks).
func (s *Service) TrustsRoot() bool { return s.roots != nil }

// CanManageKeys reports whether keys can be added and moved here.
func (s *Service) CanManageKeys() bool { return s.keyStore != nil }

// ListKeys lists the signing keys, the active one first, with how many
// live files each signed.
func (s *Service) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	counts, err := s.store.LiveLicenseFilesByKey(ctx, s.Now())
	if err != nil {
		return nil, err
	}
	ks := s.Keys()
	out := make([]KeyInfo, 0, ks.Len())
	for _, k := range ks.Keys() {
		info, err := keyInfo(ks, k, counts)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// GetKey describes one signing key.
func (s *Service) GetKey(ctx context.Context, kid string) (*KeyInfo, error) {
	ks := s.Keys()
	for _, k := range ks.Keys() {
		if k.ID != kid {
			continue
		}
		counts, err := s.store.LiveLicenseFilesByKey(ctx, s.Now())
		if err != nil {
			return nil, err
		}
		info, err := keyInfo(ks, k, counts)
		return &info, err
	}
	return nil, Errorf(KindNotFound, CodeNotFound, "no signing key %q", kid)
}

func keyInfo(ks *keys.Set, k *keys.Key, counts map[string]int) (KeyInfo, error) {
	i := ks.Info(k.ID)
	jwk, err := json.Marshal(jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: "RS256", Use: "sig"})
	if err != nil {
		return KeyInfo{}, err
	}
	info := KeyInfo{Kid: k.ID, State: i.State, Bits: k.Public.N.BitLen(), CanSign: k.CanSign(),
		Promoted: i.Promoted, Retired: i.Retired, Revoked: i.Revoked, LiveFiles: counts[k.ID], PublicJWK: jwk,
		Endorsement: k.Endorsement, RootRevocation: k.RootRevocation}
	if !i.Created.IsZero() {
		c := i.Created
		info.Created = &c
	}
	return info, nil
}

// AddKey makes a new key in state next: published in the JWKS so that app
// builds can embed it, trusted to verify, signing nothing until promoted.
func (s *Service) AddKey(ctx context.Context, actor Actor) (*KeyInfo, error) {
	var kid string
	err := s.changeKeys(ctx, func(tx Store) (func() error, error) {
		k, undo, err := s.keyStore.Add()
		if err != nil {
			return nil, err
		}
		kid = k.ID
		return undo, s.audit(ctx, tx, actor, "key.add", "key", k.ID, nil, map[string]any{"state": keys.StateNext})
	})
	if err != nil {
		return nil, err
	}
	return s.GetKey(ctx, kid)
}

// Key changes an admin can make.
var keyChanges = map[string]keys.State{"promote": keys.StateActive, "retire": keys.StateRetired, "revoke": keys.StateRevoked}

// ChangeKey promotes (the key signs from now on; the signer before it
// retires), retires (it never signs again, and still verifies) or revokes
// (compromised: nothing it signed is accepted any more) a key.
func (s *Service) ChangeKey(ctx context.Context, actor Actor, kid, change string) (*KeyInfo, error) {
	state, ok := keyChanges[change]
	if !ok {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "unknown key change %q: want promote, retire or revoke", change)
	}
	before := s.Keys().Info(kid)
	err := s.changeKeys(ctx, func(tx Store) (func() error, error) {
		undo, err := s.keyStore.SetState(kid, state)
		if err != nil {
			return nil, err
		}
		return undo, s.audit(ctx, tx, actor, "key."+change, "key", kid, map[string]any{"state": before.State}, map[string]any{"state": state})
	})
	if err != nil {
		return nil, err
	}
	return s.GetKey(ctx, kid)
}

// EndorseKey takes a root's endorsement of a signing key (licensectl keys
// endorse): from then on every file the key signs carries it, and apps
// that pin the root accept them. kid may be empty: the endorsement names
// its key. It is refused unless a root this server trusts (licensed
// --root-jwks) signed it, for use license-signing, of exactly that key.
func (s *Service) EndorseKey(ctx context.Context, actor Actor, kid, endorsement string) (*KeyInfo, error) {
	if s.roots == nil {
		return nil, Errorf(KindConflict, CodeConflict, "this server trusts no root key: start licensed with --root-jwks FILE (licensectl root jwks) to take endorsements")
	}
	endorsement = strings.TrimSpace(endorsement)
	e, pub, err := license.ParseEndorsement(endorsement, s.roots)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Err: err,
			Message: "this is not an endorsement signed by the root this server trusts: paste the whole file licensectl keys endorse wrote, made with the root of --root-jwks (" + plainReason(err) + ")"}
	}
	if kid == "" {
		kid = e.Kid
	}
	var key *keys.Key
	for _, k := range s.Keys().Keys() {
		if k.ID == kid {
			key = k
		}
	}
	switch {
	case key == nil:
		return nil, Errorf(KindNotFound, CodeNotFound, "no signing key %q", kid)
	case e.Kid != kid || !key.Public.Equal(pub):
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "the endorsement is for key %s, not %s", e.Kid, kid)
	}
	err = s.changeKeys(ctx, func(tx Store) (func() error, error) {
		undo, err := s.keyStore.SetEndorsement(kid, endorsement)
		if err != nil {
			return nil, err
		}
		after := map[string]any{"not_before": e.NotBefore}
		if e.NotAfter != 0 {
			after["not_after"] = e.NotAfter
		}
		return undo, s.audit(ctx, tx, actor, "key.endorse", "key", kid, nil, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetKey(ctx, kid)
}

// RevokeKeyByRoot takes a root's statement that a signing key is revoked
// (licensectl root revoke-key): the key is revoked here (as ChangeKey's
// revoke), and every app learns the statement on its next sync and from
// the signed revocation list, so that apps that pin the root refuse every
// file of that key. kid may be empty: the statement names its key.
func (s *Service) RevokeKeyByRoot(ctx context.Context, actor Actor, kid, statement string) (*KeyInfo, error) {
	if s.roots == nil {
		return nil, Errorf(KindConflict, CodeConflict, "this server trusts no root key: start licensed with --root-jwks FILE (licensectl root jwks) to take a root's statements")
	}
	statement = strings.TrimSpace(statement)
	kr, err := license.ParseKeyRevocation(statement, s.roots)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Code: CodeInvalidRequest, Err: err,
			Message: "this is not a key revocation signed by the root this server trusts: paste the whole file licensectl root revoke-key wrote, made with the root of --root-jwks (" + plainReason(err) + ")"}
	}
	if kid == "" {
		kid = kr.Kid
	}
	if kr.Kid != kid {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "the statement revokes key %s, not %s", kr.Kid, kid)
	}
	before := s.Keys().Info(kid)
	err = s.changeKeys(ctx, func(tx Store) (func() error, error) {
		var undos []func() error
		undo := func() error {
			var errs []error
			for i := len(undos) - 1; i >= 0; i-- {
				errs = append(errs, undos[i]())
			}
			return errors.Join(errs...)
		}
		if before.State != keys.StateRevoked {
			u, err := s.keyStore.SetState(kid, keys.StateRevoked)
			if err != nil {
				return nil, err
			}
			undos = append(undos, u)
		}
		u, err := s.keyStore.SetRootRevocation(kid, statement)
		if err != nil {
			return undo, err
		}
		undos = append(undos, u)
		return undo, s.audit(ctx, tx, actor, "key.revoke", "key", kid, map[string]any{"state": before.State}, map[string]any{"state": keys.StateRevoked, "by": "root"})
	})
	if err != nil {
		return nil, err
	}
	return s.GetKey(ctx, kid)
}

// AirGappedDevicesOfKey lists the air-gapped devices whose newest file
// the key signed: after the key is revoked, each needs a new file by hand
// (Air-gapped), since no sync will bring one.
func (s *Service) AirGappedDevicesOfKey(ctx context.Context, kid string) ([]Device, error) {
	return s.store.AirGappedDevicesOfKey(ctx, kid, s.Now())
}

// RootKeyRevocations are the root's revocation statements of the server's
// keys: every sync answer and signed revocation list carries them.
func (s *Service) RootKeyRevocations() []string { return s.signing.Load().keyRevocations }

// changeKeys runs a change of the key store with its audit entry in one
// transaction; when the audit cannot be written (or the transaction
// fails) the change is undone, so that no key changes state unaudited.
// The new key set is in force here at once, and on the other replicas at
// their next ReloadKeys.
func (s *Service) changeKeys(ctx context.Context, change func(tx Store) (undo func() error, err error)) error {
	if s.keyStore == nil {
		return Errorf(KindConflict, CodeConflict, "this server cannot change its keys: it was started without a key directory it may write")
	}
	var undo func() error // the change not yet known to be recorded
	err := s.store.InTx(ctx, func(tx Store) error {
		if undo != nil { // a retried transaction: the first try's change goes
			if err := undo(); err != nil {
				return err
			}
			undo = nil
		}
		var err error
		undo, err = change(tx)
		return err
	})
	if err != nil {
		if undo != nil {
			err = errors.Join(err, undo())
		}
		return keyStoreError(err)
	}
	_, err = s.ReloadKeys(ctx)
	return err
}

// keyStoreError gives a key store's refusal its kind.
func keyStoreError(err error) error {
	switch {
	case errors.Is(err, keys.ErrKeyState):
		return &Error{Kind: KindConflict, Code: CodeConflict, Message: err.Error(), Err: err}
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: err.Error(), Err: err}
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "change the signing keys", Err: err}
}

// ReloadKeys reads the key store again and puts its set in force when it
// changed (another replica added, promoted, retired or revoked a key).
func (s *Service) ReloadKeys(ctx context.Context) (changed bool, err error) {
	if s.keyStore == nil {
		return false, nil
	}
	ks, err := s.keyStore.Load()
	if err != nil {
		return false, &Error{Kind: KindInternal, Code: CodeInternal, Message: "reload the signing keys", Err: err}
	}
	if ks.Equal(s.Keys()) {
		return false, nil
	}
	return true, s.SetKeys(ks)
}

// WatchKeys reloads the key store every interval until ctx ends, so that
// a key change made on one replica is in force on every replica within
// that interval. A failed reload is logged and keeps the keys in force.
func (s *Service) WatchKeys(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := s.ReloadKeys(ctx)
		switch {
		case err != nil:
			log.Error("reload signing keys", "err", err)
		case changed:
			kid := ""
			if k, err := s.Keys().Active(); err == nil {
				kid = k.ID
			}
			log.Info("signing keys changed on disk; in force now", "active_kid", kid, "keys", s.Keys().Len())
		}
	}
}

// plainReason is the last, most specific part of a verifier's error: the
// prefixes its layers add say "invalid license file", which a pasted
// endorsement is not.
func plainReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
