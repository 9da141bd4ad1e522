package keys

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// A key directory holds one PEM file per key, named <kid>.pem: PKCS#8
// "PRIVATE KEY" for keys this machine can sign with (mode 0600), or
// "PUBLIC KEY" (PKIX) for retired keys kept only to verify. The file named
// ActiveFile holds the kid of the signer.
const ActiveFile = "active"

// EndorsementSuffix names a key's endorsement file: <kid>.endorsement.
const EndorsementSuffix = ".endorsement"

// RevocationSuffix names a root's revocation statement of a key:
// <kid>.revocation.
const RevocationSuffix = ".revocation"

// maxKeyFileSize bounds what is read from a key file.
const maxKeyFileSize = 64 << 10

// EncodePrivateKey returns the key as PKCS#8 PEM.
func EncodePrivateKey(priv *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a PKCS#8 PEM RSA private key and checks its size.
func ParsePrivateKey(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("parse private key: want a PEM block of type PRIVATE KEY (PKCS#8)")
	}
	anyKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := anyKey.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse private key: got %T, want RSA", anyKey)
	}
	k, err := NewSigningKey(priv)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return k, nil
}

// ParsePublicKey reads a PKIX PEM RSA public key.
func ParsePublicKey(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("parse public key: want a PEM block of type PUBLIC KEY")
	}
	anyKey, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := anyKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse public key: got %T, want RSA", anyKey)
	}
	k, err := NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return k, nil
}

// WritePrivateKey stores priv in dir as <kid>.pem with mode 0600 and makes it
// the active signer at once. The directory is created (0700) when missing.
// The key that signed before retires: it still verifies. (A staged
// rotation adds the key as next instead: Dir.Add, then Dir.SetState.)
func WritePrivateKey(dir string, priv *rsa.PrivateKey) (*Key, error) {
	k, err := NewSigningKey(priv)
	if err != nil {
		return nil, err
	}
	if k, err = writeKeyFile(dir, k); err != nil {
		return nil, err
	}
	doc, err := readStates(dir)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if prev, err := os.ReadFile(filepath.Join(dir, ActiveFile)); err == nil {
		if id := strings.TrimSpace(string(prev)); id != k.ID {
			info, ok := doc.Keys[id]
			if !ok {
				info = Info{Created: now}
			}
			info.State, info.Retired = StateRetired, &now
			doc.Keys[id] = info
		}
	}
	doc.Keys[k.ID] = Info{State: StateActive, Created: now, Promoted: &now}
	if err := writeStates(dir, doc); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, ActiveFile), []byte(k.ID+"\n")); err != nil {
		return nil, fmt.Errorf("mark active key: %w", err)
	}
	return k, nil
}

// writeKeyFile stores k's private half in dir as <kid>.pem, mode 0600,
// changing no state.
func writeKeyFile(dir string, k *Key) (*Key, error) {
	priv, ok := k.Signer().(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("write private key: %T cannot be stored in a key directory", k.Signer())
	}
	data, err := EncodePrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, k.ID+".pem"), data); err != nil {
		return nil, fmt.Errorf("write private key: %w", err)
	}
	return k, nil
}

// GenerateInto makes a new key of the given size (DefaultBits when 0), stores
// it in dir and makes it the active signer.
func GenerateInto(dir string, bits int) (*Key, error) {
	k, err := Generate(bits)
	if err != nil {
		return nil, err
	}
	return WritePrivateKey(dir, k.Signer().(*rsa.PrivateKey))
}

// writeFileAtomic writes through a temporary file (created 0600) and a
// rename, so that a crash never leaves a half-written key behind.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadDir reads every key in dir. A private key that group or others may
// read is refused: fix it with chmod 600. The signer is the key named in the
// active file, or the only private key when there is no such file. A
// directory with no private key gives a verify-only set.
func LoadDir(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	var all []*Key
	var private []*Key
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		k, isPrivate, err := loadFile(path)
		if err != nil {
			return nil, err
		}
		if b, err := os.ReadFile(filepath.Join(dir, k.ID+EndorsementSuffix)); err == nil {
			k.Endorsement = strings.TrimSpace(string(b))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load keys: %w", err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, k.ID+RevocationSuffix)); err == nil {
			k.RootRevocation = strings.TrimSpace(string(b))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load keys: %w", err)
		}
		all = append(all, k)
		if isPrivate {
			private = append(private, k)
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("load keys: no .pem key files in %s; create one with: licensectl keys generate --out %s", dir, dir)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })

	doc, err := readStates(dir)
	if err != nil {
		return nil, err
	}
	var active *Key
	activeID, err := os.ReadFile(filepath.Join(dir, ActiveFile))
	switch {
	case err == nil:
		id := strings.TrimSpace(string(activeID))
		for _, k := range private {
			if k.ID == id {
				active = k
			}
		}
		if active == nil {
			return nil, fmt.Errorf("load keys: %s names key %q, but %s has no private key with that id", filepath.Join(dir, ActiveFile), id, dir)
		}
	case errors.Is(err, fs.ErrNotExist):
		switch len(private) {
		case 0:
		case 1:
			active = private[0]
		default:
			return nil, fmt.Errorf("load keys: %s holds %d private keys and no %q file naming the signer", dir, len(private), ActiveFile)
		}
	default:
		return nil, fmt.Errorf("load keys: %w", err)
	}
	// States: the state file's, where it names the key; else the active
	// file's key active and every other key retired (a directory made
	// before key states).
	info := make(map[string]Info, len(all))
	for _, k := range all {
		i, ok := doc.Keys[k.ID]
		switch {
		case ok:
		case active != nil && k.ID == active.ID:
			i = Info{State: StateActive}
		default:
			i = Info{State: StateRetired}
		}
		if i.State == StateActive && (active == nil || k.ID != active.ID) {
			return nil, fmt.Errorf("load keys: %s says key %s is active, but %s names %s; fix one of them", filepath.Join(dir, StateFile), k.ID, filepath.Join(dir, ActiveFile), activeName(active))
		}
		if active != nil && k.ID == active.ID && i.State != StateActive {
			return nil, fmt.Errorf("load keys: %s names key %s, whose state in %s is %s", filepath.Join(dir, ActiveFile), k.ID, filepath.Join(dir, StateFile), i.State)
		}
		info[k.ID] = i
	}
	return newStatedSet(active, all, info)
}

func activeName(k *Key) string {
	if k == nil {
		return "none"
	}
	return k.ID
}

func loadFile(path string) (k *Key, isPrivate bool, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("load key %s: %w", path, err)
	}
	if info.Size() > maxKeyFileSize {
		return nil, false, fmt.Errorf("load key %s: %d bytes is too large for a key file", path, info.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("load key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, false, fmt.Errorf("load key %s: not a PEM file", path)
	}
	switch block.Type {
	case "PRIVATE KEY":
		if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
			return nil, false, fmt.Errorf("load key %s: private key has mode %04o and may be read by others; run: chmod 600 %s", path, perm, path)
		}
		k, err := ParsePrivateKey(data)
		if err != nil {
			return nil, false, fmt.Errorf("load key %s: %w", path, err)
		}
		return k, true, nil
	case "PUBLIC KEY":
		k, err := ParsePublicKey(data)
		if err != nil {
			return nil, false, fmt.Errorf("load key %s: %w", path, err)
		}
		return k, false, nil
	default:
		return nil, false, fmt.Errorf("load key %s: PEM block %q, want PRIVATE KEY (PKCS#8) or PUBLIC KEY", path, block.Type)
	}
}

// LoadOrGenerate loads the keys in dir, or, when dir holds no key at all
// (or does not exist), generates a first signing key there. created is the
// new key, nil when the keys were loaded.
func LoadOrGenerate(dir string, bits int) (set *Set, created *Key, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("load keys: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".pem") {
			set, err := LoadDir(dir)
			return set, nil, err
		}
	}
	k, err := GenerateInto(dir, bits)
	if err != nil {
		return nil, nil, err
	}
	set, err = NewSet(k)
	return set, k, err
}
