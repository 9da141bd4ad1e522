package license

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrInvalid is wrapped by every error that makes a file invalid: malformed,
// forged, signed by an unknown key, or carrying values the format forbids.
var ErrInvalid = errors.New("invalid license file")

// ErrUnknownKey is ErrInvalid for a file signed by a key the verifier's key
// set does not hold: after a rotation, an app built before it.
var ErrUnknownKey = fmt.Errorf("%w: signed by unknown key", ErrInvalid)

// MaxFileSize is the largest license file a reader accepts. Real files are a
// few kilobytes; anything larger is refused before it is decoded, so a huge
// input costs neither time nor memory.
const MaxFileSize = 64 << 10

// Armor lines of a license file.
const (
	BeginLine = "-----BEGIN FLOWLYTIX LICENSE-----"
	EndLine   = "-----END FLOWLYTIX LICENSE-----"
)

// foldWidth is the line width of an armored body.
const foldWidth = 64

// Header is the JWS protected header of a license file.
type Header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// headerMembers are the only members a header may carry. Everything else is
// refused, and in particular jku, x5u, jwk, x5c, crit and b64: a verifier
// takes its keys from its own key set and nothing from the file.
var headerMembers = map[string]bool{"alg": true, "kid": true, "typ": true}

// Token is a decoded license file whose signature has not been checked yet.
type Token struct {
	Header  Header
	Claims  *Claims
	Compact string // the bare JWS compact serialization

	signingInput string // header.payload, as received
	signature    []byte
}

// KeySource finds a public key by its kid. *keys.Set implements it.
type KeySource interface {
	Lookup(kid string) (*rsa.PublicKey, bool)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// docError is ErrInvalid for a signed document that is not a license file
// (the revocation list, an endorsement): its message says so.
type docError struct {
	msg   string
	cause error // the verifier's error, when there is one (ErrUnknownKey...)
}

func (e *docError) Error() string        { return "invalid signed document: " + e.msg }
func (e *docError) Unwrap() error        { return e.cause }
func (e *docError) Is(target error) bool { return target == ErrInvalid }

func invalidDoc(format string, args ...any) error {
	return &docError{msg: fmt.Sprintf(format, args...)}
}

// Unarmor extracts the JWS compact serialization from a license file. It
// accepts CRLF line ends, blank space around the file, an unfolded body, and a
// bare compact string with no armor lines.
func Unarmor(data []byte) (string, error) {
	if len(data) > MaxFileSize {
		return "", invalid("file is %d bytes, more than the %d a license file may be", len(data), MaxFileSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM some editors add
	text := strings.TrimSpace(string(data))
	if strings.HasPrefix(text, "-----") {
		body, ok := strings.CutPrefix(text, BeginLine)
		if !ok {
			return "", invalid("the first line is not %s", BeginLine)
		}
		body, ok = strings.CutSuffix(body, EndLine)
		if !ok {
			return "", invalid("the last line is not %s", EndLine)
		}
		text = body
	}
	compact := stripBlanks(text)
	if compact == "" {
		return "", invalid("empty file")
	}
	return compact, nil
}

// stripBlanks removes line breaks, spaces and tabs; most bodies have a few
// dozen line breaks, so it copies once and only when there is anything to
// remove.
func stripBlanks(s string) string {
	if !strings.ContainsAny(s, "\r\n \t") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r', '\n', ' ', '\t':
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// Armor wraps a compact JWS in the armor lines, folded at 64 characters.
func Armor(compact string) []byte {
	var b strings.Builder
	b.Grow(len(compact) + len(compact)/foldWidth + len(BeginLine) + len(EndLine) + 4)
	b.WriteString(BeginLine)
	b.WriteByte('\n')
	for len(compact) > foldWidth {
		b.WriteString(compact[:foldWidth])
		b.WriteByte('\n')
		compact = compact[foldWidth:]
	}
	b.WriteString(compact)
	b.WriteByte('\n')
	b.WriteString(EndLine)
	b.WriteByte('\n')
	return []byte(b.String())
}

// Parse decodes a license file (armored or bare) without verifying its
// signature. Everything about the file's form is checked: three segments of
// unpadded base64url, a header of exactly alg, kid and typ with the format's
// values, and well-formed claims. Use Verify before trusting the claims.
func Parse(data []byte) (*Token, error) {
	compact, err := Unarmor(data)
	if err != nil {
		return nil, err
	}
	return ParseCompact(compact)
}

// ParseCompact is Parse for a bare JWS compact string.
func ParseCompact(compact string) (*Token, error) {
	if len(compact) > MaxFileSize {
		return nil, invalid("token is %d bytes, more than %d", len(compact), MaxFileSize)
	}
	if n := strings.Count(compact, "."); n != 2 {
		return nil, invalid("a JWS compact serialization has 3 segments, this has %d", n+1)
	}
	h64, rest, _ := strings.Cut(compact, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	headerJSON, err := decodeSegment("header", h64)
	if err != nil {
		return nil, invalid("%v", err)
	}
	header, err := decodeHeader(headerJSON)
	if err != nil {
		return nil, err
	}
	payload, err := decodeSegment("payload", p64)
	if err != nil {
		return nil, invalid("%v", err)
	}
	sig, err := decodeSegment("signature", s64)
	if err != nil {
		return nil, invalid("%v", err)
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return &Token{
		Header:       header,
		Claims:       claims,
		Compact:      compact,
		signingInput: compact[:len(h64)+1+len(p64)],
		signature:    sig,
	}, nil
}

// decodeSegment decodes unpadded base64url and nothing else: padding, the
// standard alphabet, embedded blank space and non-zero trailing bits are
// all refused, so one file has exactly one encoding.
func decodeSegment(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("empty %s", name)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("%s is not unpadded base64url (byte %q at %d)", name, c, i)
		}
	}
	out, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not unpadded base64url: %v", name, err)
	}
	return out, nil
}

func decodeHeader(data []byte) (Header, error) {
	var h Header
	members, err := checkObject(data)
	if err != nil {
		return h, invalid("header: %v", err)
	}
	for name, kind := range members {
		if !headerMembers[name] {
			return h, invalid("header carries %q; only alg, kid and typ are allowed", name)
		}
		if kind != kindString {
			return h, invalid("header %q is a %s, want a string", name, kind)
		}
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, invalid("header: %v", err)
	}
	switch {
	case h.Alg != Alg:
		return h, invalid("alg is %q, only %s is accepted", h.Alg, Alg)
	case h.Typ != Type:
		return h, invalid("typ is %q, want %q", h.Typ, Type)
	case h.Kid == "":
		return h, invalid("header has no kid")
	}
	return h, nil
}

// Verify checks the signature against the key the header's kid names in ks.
// It fetches nothing: a kid not in ks is an unknown key.
func (t *Token) Verify(ks KeySource) error {
	pub, ok := ks.Lookup(t.Header.Kid)
	if !ok {
		return fmt.Errorf("%w (kid %q)", ErrUnknownKey, t.Header.Kid)
	}
	h := sha256.New()
	io.WriteString(h, t.signingInput) // no copy of the input
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h.Sum(nil), t.signature); err != nil {
		return invalid("bad signature")
	}
	return nil
}

// Verify parses a license file and checks its signature: the claims it
// returns are the ones the issuer signed. Time, device and revocation rules
// are the caller's (see clientlib).
func Verify(data []byte, ks KeySource) (*Token, error) {
	t, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := t.Verify(ks); err != nil {
		return nil, err
	}
	return t, nil
}

// Sign serializes claims and signs them with signer, naming the key kid. The
// signer may be any crypto.Signer over an RSA key (a key on disk, a KMS, an
// HSM). It returns the bare JWS compact serialization.
func Sign(signer crypto.Signer, kid string, c *Claims) (string, error) {
	return SignJSON(signer, kid, Type, c)
}

// SignJSON signs any JSON payload as an RS256 JWS of the given typ, with the
// same header rules as license files: the server's signed revocation list
// is one.
func SignJSON(signer crypto.Signer, kid, typ string, payload any) (string, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signRaw(signer, kid, typ, body)
}

// signRaw signs payload bytes as they are (JSON, or compressed JSON) as an
// RS256 JWS of typ.
func signRaw(signer crypto.Signer, kid, typ string, body []byte) (string, error) {
	if kid == "" {
		return "", errors.New("sign: empty kid")
	}
	header, err := json.Marshal(Header{Alg: Alg, Kid: kid, Typ: typ})
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(enc.EncodedLen(len(header)) + enc.EncodedLen(len(body)) + 800)
	b.WriteString(enc.EncodeToString(header))
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(body))
	sum := sha256.Sum256([]byte(b.String()))
	sig, err := signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(sig))
	return b.String(), nil
}

// docHeader reads the header of a signed document the server's key signed
// (not a license file): exactly alg RS256, kid and the given typ, all
// strings; bad makes the caller's kind of error.
func docHeader(h64, typ string, bad func(string, ...any) error) (Header, error) {
	var h Header
	hj, err := decodeSegment("header", h64)
	if err != nil {
		return h, bad("%v", err)
	}
	members, err := checkObject(hj)
	if err != nil {
		return h, bad("header: %v", err)
	}
	for name, kind := range members {
		if !headerMembers[name] || kind != kindString {
			return h, bad("header carries %q; only alg, kid and typ are allowed", name)
		}
	}
	if err := json.Unmarshal(hj, &h); err != nil {
		return h, bad("header: %v", err)
	}
	if h.Alg != Alg || h.Typ != typ || h.Kid == "" {
		return h, bad("header is alg %q typ %q, want %s and %q with a kid", h.Alg, h.Typ, Alg, typ)
	}
	return h, nil
}

// VerifyJSON verifies a JWS of the given typ made by SignJSON and returns
// its payload, after the same header, encoding and duplicate-member checks
// as a license file; every member name of the payload must be snake_case.
func VerifyJSON(compact string, ks KeySource, typ string) ([]byte, error) {
	payload, _, err := verifyJSON(compact, ks, typ)
	return payload, err
}

// verifyJSON is VerifyJSON that also returns the kinds of the payload's
// top-level members, from the one strict scan it makes.
func verifyJSON(compact string, ks KeySource, typ string) ([]byte, map[string]jsonKind, error) {
	compact = stripBlanks(strings.TrimSpace(compact))
	if len(compact) > 8<<20 {
		return nil, nil, invalidDoc("signed document is larger than 8 MiB")
	}
	if n := strings.Count(compact, "."); n != 2 {
		return nil, nil, invalidDoc("a JWS compact serialization has 3 segments, this has %d", n+1)
	}
	h64, rest, _ := strings.Cut(compact, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	h, err := docHeader(h64, typ, invalidDoc)
	if err != nil {
		return nil, nil, err
	}
	payload, err := decodeSegment("payload", p64)
	if err != nil {
		return nil, nil, invalidDoc("%v", err)
	}
	members2, err := checkSnakeObject(payload)
	if err != nil {
		return nil, nil, invalidDoc("payload: %v", err)
	}
	sig, err := decodeSegment("signature", s64)
	if err != nil {
		return nil, nil, invalidDoc("%v", err)
	}
	t := &Token{Header: h, signingInput: compact[:len(h64)+1+len(p64)], signature: sig}
	if err := t.Verify(ks); err != nil {
		return nil, nil, &docError{msg: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "), cause: err}
	}
	return payload, members2, nil
}
