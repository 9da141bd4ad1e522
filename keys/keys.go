package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultBits is the RSA modulus size of a newly generated key.
const DefaultBits = 3072

// MinBits is the smallest RSA modulus accepted anywhere: generating, loading,
// or reading a public key from a JWKS.
const MinBits = 2048

// MaxBits bounds the modulus so that a hostile JWKS cannot make every
// verification arbitrarily slow.
const MaxBits = 8192

// ErrNoSigner is returned when a key set has no key that can sign.
var ErrNoSigner = errors.New("key set has no active signing key")

// Key is one RSA key: always its public half, and a signer when the private
// half is available (on disk, or behind a KMS or HSM that implements
// crypto.Signer).
type Key struct {
	// ID is the key id (kid): the RFC 7638 SHA-256 JWK thumbprint, base64url.
	ID     string
	Public *rsa.PublicKey
	signer crypto.Signer
	// Endorsement is a root's endorsement of this key (a JWS), from the
	// file <kid>.endorsement beside it; empty when the key has none. The
	// issuer puts it in every file the key signs. It is checked where it
	// is taken in (licensed, licensectl), not here.
	Endorsement string
	// RootRevocation is a root's statement that this key is revoked, from
	// <kid>.revocation beside it; the server hands it to every app.
	RootRevocation string
}

// Signer returns the key's signer, or nil when the key is verify-only.
func (k *Key) Signer() crypto.Signer { return k.signer }

// CanSign reports whether the key holds a signer.
func (k *Key) CanSign() bool { return k.signer != nil }

// NewSigningKey wraps a signer whose public key is RSA. Any crypto.Signer
// works: an *rsa.PrivateKey from disk, or a KMS or HSM handle.
func NewSigningKey(s crypto.Signer) (*Key, error) {
	pub, ok := s.Public().(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("signing key: got %T, want an RSA key", s.Public())
	}
	k, err := NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	k.signer = s
	return k, nil
}

// NewPublicKey returns a verify-only key after checking its size.
func NewPublicKey(pub *rsa.PublicKey) (*Key, error) {
	if err := checkSize(pub); err != nil {
		return nil, err
	}
	kid, err := Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	return &Key{ID: kid, Public: pub}, nil
}

// Generate makes a new RSA signing key of the given size (DefaultBits when
// bits is 0).
func Generate(bits int) (*Key, error) {
	if bits == 0 {
		bits = DefaultBits
	}
	if bits < MinBits || bits > MaxBits {
		return nil, fmt.Errorf("generate key: %d bits is out of range, want %d to %d", bits, MinBits, MaxBits)
	}
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return NewSigningKey(priv)
}

// Thumbprint computes the RFC 7638 SHA-256 thumbprint of an RSA public key,
// base64url without padding: the kid every license file names.
func Thumbprint(pub *rsa.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func checkSize(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return errors.New("rsa key: missing modulus")
	}
	bits := pub.N.BitLen()
	if bits < MinBits {
		return fmt.Errorf("rsa key: %d bits is too small, want at least %d", bits, MinBits)
	}
	if bits > MaxBits {
		return fmt.Errorf("rsa key: %d bits is too large, want at most %d", bits, MaxBits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return fmt.Errorf("rsa key: public exponent %d is not usable", pub.E)
	}
	return nil
}
