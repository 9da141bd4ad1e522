// Package password hashes and checks admin passwords (argon2id, PHC
// strings) and holds the password policy: a length counted in characters,
// no common password, none equal to the email or to the password it
// replaces. It imports nothing of the server.
package password

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommendation (19 MiB, 2 passes, 1 lane).
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
	// MinLength is the fewest characters (not bytes) a password has.
	MinLength = 12
	// MaxBytes bounds a password, so that hashing one costs a known time.
	MaxBytes = 1024
)

// Hash hashes a password with argon2id into the PHC string format. It
// checks only the length bounds; Check applies the whole policy.
func Hash(password string) (string, error) {
	if err := checkLength(password); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Matches reports whether password matches an argon2id PHC hash,
// comparing in constant time. Parameters are read from the hash, so hashes
// made with older parameters keep working.
func Matches(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(password) > MaxBytes {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the email is unknown, so that a wrong
// email costs the same time as a wrong password.
var dummyHash, _ = Hash("not-a-real-password-at-all")

// checking bounds concurrent checks: each costs 19 MiB of memory.
var checking = make(chan struct{}, 4)

// Verify runs Matches under a bound on concurrent checks. With an empty
// hash (an unknown account) it checks against a dummy hash, so that an
// unknown email costs the same time as a wrong password, and reports false.
func Verify(ctx context.Context, hash, password string) (bool, error) {
	select {
	case checking <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-checking }()
	if hash == "" {
		Matches(dummyHash, password)
		return false, nil
	}
	return Matches(hash, password), nil
}

// PolicyError says why a new password was refused, in words for the person
// who chose it.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return e.Reason }

func checkLength(password string) error {
	if len(password) > MaxBytes {
		return &PolicyError{fmt.Sprintf("A password may have at most %d bytes.", MaxBytes)}
	}
	if n := utf8.RuneCountInString(password); n < MinLength {
		return &PolicyError{fmt.Sprintf("A password needs at least %d characters; this one has %d.", MinLength, n)}
	}
	return nil
}

// Check applies the policy (OWASP ASVS 6.2) to a new password for the admin
// with this email; currentHash, when set, is the password it replaces. It
// returns a *PolicyError naming what to change.
func Check(ctx context.Context, password, email, currentHash string) error {
	if err := checkLength(password); err != nil {
		return err
	}
	if !utf8.ValidString(password) {
		return &PolicyError{"The password is not valid text (UTF-8)."}
	}
	lower := strings.ToLower(password)
	email = strings.ToLower(strings.TrimSpace(email))
	local, _, _ := strings.Cut(email, "@")
	if email != "" && (lower == email || lower == local) {
		return &PolicyError{"A password must not be your email address or its name part."}
	}
	if IsCommon(password) {
		return &PolicyError{"That password is on the list of the most common passwords, which attackers try first. Choose another."}
	}
	if currentHash != "" {
		same, err := Verify(ctx, currentHash, password)
		if err != nil {
			return err
		}
		if same {
			return &PolicyError{"The new password is the current one. Choose another."}
		}
	}
	return nil
}

// common.txt lists about 50,000 of the most common passwords, lowercase,
// most common first: the xato 10,000 and the zxcvbn-ts list, both MIT
// (common.LICENSES.txt).
//
//go:embed common.txt
var commonText string

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 50_000)
	sc := bufio.NewScanner(strings.NewReader(commonText))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			m[w] = struct{}{}
		}
	}
	return m
})

// IsCommon reports whether password, ignoring case, is on the bundled
// list of common passwords.
func IsCommon(password string) bool {
	_, ok := common()[strings.ToLower(password)]
	return ok
}

// New makes a random password for a first admin: 20 characters.
func New() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
