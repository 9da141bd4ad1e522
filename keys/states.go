package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// State is where a key is in its life. A rotation goes next -> active ->
// retired, so that apps in the field learn a key before it signs:
//
//   - next: published in the JWKS and trusted to verify, but signs nothing
//     yet. Ship app builds that embed it, then promote it.
//   - active: the one signer.
//   - retired: verifies the files it signed, never signs again.
//   - revoked: compromised. Left out of the JWKS; nothing it signed is
//     accepted by the server.
type State string

// The key states.
const (
	StateNext    State = "next"
	StateActive  State = "active"
	StateRetired State = "retired"
	StateRevoked State = "revoked"
)

// Info is a key's state and the times it changed.
type Info struct {
	State    State      `json:"state"`
	Created  time.Time  `json:"created"`
	Promoted *time.Time `json:"promoted,omitempty"`
	Retired  *time.Time `json:"retired,omitempty"`
	Revoked  *time.Time `json:"revoked,omitempty"`
}

// StateFile holds every key's Info in a key directory. A directory without
// one (made before key states) reads as its active file's key active and
// every other key retired.
const StateFile = "states.json"

type stateDoc struct {
	Keys map[string]Info `json:"keys"`
}

// ErrKeyState refuses a change the key's state does not allow; its message
// says what to do instead.
var ErrKeyState = errors.New("key state")

func stateErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrKeyState}, args...)...)
}

// Dir is a key directory and the changes a rotation makes to it. Every
// replica of a server reads the same directory (a shared volume, or a
// secret store mounted as one), so a change made through one is in force on
// all of them once they reload it.
type Dir struct {
	Path string
	Bits int              // of new keys; DefaultBits when 0
	Now  func() time.Time // time.Now when nil
}

func (d *Dir) now() time.Time {
	if d.Now == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return d.Now().UTC().Truncate(time.Second)
}

// Load reads the keys and their states.
func (d *Dir) Load() (*Set, error) { return LoadDir(d.Path) }

// Add makes a new key in state next. undo removes it again.
func (d *Dir) Add() (k *Key, undo func() error, err error) {
	restore, err := d.snapshot()
	if err != nil {
		return nil, nil, err
	}
	bits := d.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	g, err := Generate(bits)
	if err != nil {
		return nil, nil, err
	}
	if k, err = writeKeyFile(d.Path, g); err != nil {
		return nil, nil, err
	}
	undo = func() error {
		return errors.Join(restore(), os.Remove(filepath.Join(d.Path, k.ID+".pem")))
	}
	doc, err := readStates(d.Path)
	if err != nil {
		return nil, nil, errors.Join(err, undo())
	}
	doc.Keys[k.ID] = Info{State: StateNext, Created: d.now()}
	if err := writeStates(d.Path, doc); err != nil {
		return nil, nil, errors.Join(err, undo())
	}
	return k, undo, nil
}

// SetState moves a key to state: promote (next or retired to active; the
// active key retires), retire (next to retired), revoke (any but the active
// key). undo restores the states as they were.
func (d *Dir) SetState(kid string, state State) (undo func() error, err error) {
	set, err := LoadDir(d.Path)
	if err != nil {
		return nil, err
	}
	k, ok := set.byID[kid]
	if !ok {
		return nil, fmt.Errorf("%w: no key %q in %s", fs.ErrNotExist, kid, d.Path)
	}
	doc, err := readStates(d.Path)
	if err != nil {
		return nil, err
	}
	cur := set.Info(kid)
	now := d.now()
	info := cur
	switch state {
	case StateActive:
		switch {
		case cur.State == StateActive:
			return nil, stateErr("key %s is already the active signer", kid)
		case cur.State == StateRevoked:
			return nil, stateErr("key %s is revoked and can never sign again; add a new key", kid)
		case !k.CanSign():
			return nil, stateErr("key %s has no private key in %s, so it cannot sign", kid, d.Path)
		}
		info.State, info.Promoted = StateActive, &now
		if old := set.active; old != nil {
			oi := set.Info(old.ID)
			oi.State, oi.Retired = StateRetired, &now
			doc.Keys[old.ID] = oi
		}
	case StateRetired:
		switch cur.State {
		case StateActive:
			return nil, stateErr("key %s is the active signer; promote another key first, and it retires", kid)
		case StateRetired:
			return nil, stateErr("key %s is already retired", kid)
		case StateRevoked:
			return nil, stateErr("key %s is revoked, which is final", kid)
		}
		info.State, info.Retired = StateRetired, &now
	case StateRevoked:
		switch cur.State {
		case StateActive:
			return nil, stateErr("key %s is the active signer; promote another key first, then revoke this one", kid)
		case StateRevoked:
			return nil, stateErr("key %s is already revoked", kid)
		}
		info.State, info.Revoked = StateRevoked, &now
	default:
		return nil, stateErr("%q is not a state a key can be moved to; want active, retired or revoked", state)
	}
	doc.Keys[kid] = info
	restore, err := d.snapshot()
	if err != nil {
		return nil, err
	}
	if err := writeStates(d.Path, doc); err != nil {
		return nil, errors.Join(err, restore())
	}
	if state == StateActive {
		if err := writeFileAtomic(filepath.Join(d.Path, ActiveFile), []byte(kid+"\n")); err != nil {
			return nil, errors.Join(err, restore())
		}
	}
	return restore, nil
}

// SetEndorsement stores a key's endorsement beside it (the caller has
// checked it); undo puts back what was there.
func (d *Dir) SetEndorsement(kid, endorsement string) (undo func() error, err error) {
	return d.setBeside(kid, EndorsementSuffix, endorsement)
}

// SetRootRevocation stores a root's revocation statement of a key beside
// it (the caller has checked it); undo puts back what was there.
func (d *Dir) SetRootRevocation(kid, statement string) (undo func() error, err error) {
	return d.setBeside(kid, RevocationSuffix, statement)
}

func (d *Dir) setBeside(kid, suffix, text string) (undo func() error, err error) {
	if _, err := os.Stat(filepath.Join(d.Path, kid+".pem")); err != nil {
		return nil, fmt.Errorf("%w: no key %q in %s", fs.ErrNotExist, kid, d.Path)
	}
	p := filepath.Join(d.Path, kid+suffix)
	prev, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := writeFileAtomic(p, []byte(strings.TrimSpace(text)+"\n")); err != nil {
		return nil, err
	}
	return func() error {
		if prev == nil {
			return os.Remove(p)
		}
		return writeFileAtomic(p, prev)
	}, nil
}

// snapshot keeps the state and active files as they are now and returns
// the function that puts them back.
func (d *Dir) snapshot() (func() error, error) {
	var saved [2][]byte
	for i, name := range []string{StateFile, ActiveFile} {
		b, err := os.ReadFile(filepath.Join(d.Path, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("key directory: %w", err)
		}
		saved[i] = b
	}
	return func() error {
		var errs []error
		for i, name := range []string{StateFile, ActiveFile} {
			p := filepath.Join(d.Path, name)
			if saved[i] == nil {
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
				continue
			}
			errs = append(errs, writeFileAtomic(p, saved[i]))
		}
		return errors.Join(errs...)
	}, nil
}

func readStates(dir string) (*stateDoc, error) {
	doc := &stateDoc{Keys: map[string]Info{}}
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key states: %w", err)
	}
	if err := json.Unmarshal(b, doc); err != nil {
		return nil, fmt.Errorf("key states %s: %w", filepath.Join(dir, StateFile), err)
	}
	if doc.Keys == nil {
		doc.Keys = map[string]Info{}
	}
	for kid, info := range doc.Keys {
		switch info.State {
		case StateNext, StateActive, StateRetired, StateRevoked:
		default:
			return nil, fmt.Errorf("key states %s: key %s has state %q; want next, active, retired or revoked", filepath.Join(dir, StateFile), kid, info.State)
		}
	}
	return doc, nil
}

func writeStates(dir string, doc *stateDoc) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, StateFile), append(b, '\n'))
}
