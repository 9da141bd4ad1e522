package license

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The air-gapped exchange: what an online sync carries, on files. The
// offline machine writes a sync request (or, when it is retired, a
// deactivation receipt), signed with its device key; an admin uploads it;
// the server answers a sync response, signed with its signing key, bound
// to the request's nonce and device, which the machine imports.
//
// Every file is armored like a license file around a compact JWS whose
// payload is the DEFLATE (RFC 1951, raw) compression of a JSON object: a
// queue's rows repeat their names, features and times, which DEFLATE
// takes, leaving mostly the random event ids (sizes in docs/benchmarks.md).
const (
	SyncRequestBeginLine         = "-----BEGIN FLOWLYTIX SYNC REQUEST-----"
	SyncRequestEndLine           = "-----END FLOWLYTIX SYNC REQUEST-----"
	DeactivationReceiptBeginLine = "-----BEGIN FLOWLYTIX DEACTIVATION RECEIPT-----"
	DeactivationReceiptEndLine   = "-----END FLOWLYTIX DEACTIVATION RECEIPT-----"
	SyncResponseBeginLine        = "-----BEGIN FLOWLYTIX SYNC RESPONSE-----"
	SyncResponseEndLine          = "-----END FLOWLYTIX SYNC RESPONSE-----"

	// The typ of each file's JWS header.
	SyncRequestType         = "flowlytix-sync-request+jwt"
	DeactivationReceiptType = "flowlytix-deactivation-receipt+jwt"
	SyncResponseType        = "flowlytix-sync-response+jwt"
)

// Bounds on exchange files. A request carries at most MaxExchangeUsage
// usage events and MaxExchangeHeartbeats heartbeats; a machine with more
// queued sends the rest in its next request.
const (
	MaxExchangeFileSize = 32 << 20
	// MaxExchangePayload bounds the inflated JSON with room for the most
	// rows a file may carry; a compressed bomb stops here.
	MaxExchangePayload    = 20 << 20
	MaxExchangeUsage      = 100_000
	MaxExchangeHeartbeats = 10_000
)

// ErrInvalidExchange is wrapped by every error about a malformed or
// forged sync request, deactivation receipt or sync response.
var ErrInvalidExchange = errors.New("invalid exchange file")

func badExchange(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidExchange}, args...)...)
}

// ExchangeKind says which file a request is.
type ExchangeKind string

const (
	KindSyncRequest         ExchangeKind = "sync_request"
	KindDeactivationReceipt ExchangeKind = "deactivation_receipt"
)

// ExchangeHeartbeat is a heartbeat as the online sync carries it.
type ExchangeHeartbeat struct {
	At         time.Time `json:"at"`
	AppVersion string    `json:"app_version,omitempty"`
}

// ExchangeEvent is a usage event as the online sync carries it; EventID
// (a UUID the app made) makes storing it exactly once possible however
// often it is sent.
type ExchangeEvent struct {
	EventID         string    `json:"event_id"`
	Feature         string    `json:"feature"`
	Count           int64     `json:"count"`
	DurationSeconds float64   `json:"duration_seconds,omitempty"`
	At              time.Time `json:"at"`
}

// SyncRequest is a sync request or a deactivation receipt: what an online
// sync sends (the license file the machine holds, its device, the
// subscription, the revocation cursor, heartbeats, queued usage, its
// clock) and a nonce that the response names.
type SyncRequest struct {
	Kind             ExchangeKind        `json:"-"`
	License          string              `json:"license"` // the license file's compact JWS
	DeviceID         string              `json:"device_id"`
	SubscriptionID   string              `json:"subscription_id"`
	Nonce            string              `json:"nonce"`
	CreatedAt        time.Time           `json:"created_at"` // the machine's clock
	RevocationCursor int64               `json:"revocation_cursor"`
	Heartbeats       []ExchangeHeartbeat `json:"heartbeats"`
	Usage            []ExchangeEvent     `json:"usage"`
	// Key is the device key that signed the file (from its header), set by
	// ParseSyncRequest: whoever checks the file compares its thumbprint
	// with the device's registered one.
	Key *DevicePublicKey `json:"-"`
	// Digest is the SHA-256 (hex) of the compact JWS, set by
	// ParseSyncRequest: it names one file in logs and audit entries.
	Digest string `json:"-"`
}

// NewNonce is a fresh random nonce, 128 bits in base64url.
func NewNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	return b64.EncodeToString(b), nil
}

func (r *SyncRequest) armor() (begin, end, typ string, err error) {
	switch r.Kind {
	case KindSyncRequest, "":
		return SyncRequestBeginLine, SyncRequestEndLine, SyncRequestType, nil
	case KindDeactivationReceipt:
		return DeactivationReceiptBeginLine, DeactivationReceiptEndLine, DeactivationReceiptType, nil
	}
	return "", "", "", fmt.Errorf("exchange kind %q is neither a sync request nor a deactivation receipt", r.Kind)
}

// check is what every request must hold, whoever made it.
func (r *SyncRequest) check() error {
	switch {
	case r.License == "" || len(r.License) > MaxFileSize:
		return badExchange("license must be the license file the machine holds")
	case r.DeviceID == "" || len(r.DeviceID) > 200:
		return badExchange("device_id must be 1 to 200 bytes")
	case r.SubscriptionID == "" || len(r.SubscriptionID) > 200:
		return badExchange("subscription_id must be 1 to 200 bytes")
	case len(r.Nonce) < 16 || len(r.Nonce) > 200:
		return badExchange("nonce must be 16 to 200 characters")
	case r.CreatedAt.IsZero():
		return badExchange("created_at is missing")
	case r.RevocationCursor < 0:
		return badExchange("revocation_cursor must not be negative")
	case len(r.Usage) > MaxExchangeUsage:
		return badExchange("%d usage events is more than the %d one file may carry; the app sends the rest in its next request", len(r.Usage), MaxExchangeUsage)
	case len(r.Heartbeats) > MaxExchangeHeartbeats:
		return badExchange("%d heartbeats is more than the %d one file may carry", len(r.Heartbeats), MaxExchangeHeartbeats)
	}
	return nil
}

// SignSyncRequest writes r as an armored file signed with the device key:
// a sync request, or with r.Kind KindDeactivationReceipt, a deactivation
// receipt.
func (k *DeviceKey) SignSyncRequest(r *SyncRequest) ([]byte, error) {
	begin, end, typ, err := r.armor()
	if err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	if r.Heartbeats == nil {
		r.Heartbeats = []ExchangeHeartbeat{}
	}
	if r.Usage == nil {
		r.Usage = []ExchangeEvent{}
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("sign sync request: %w", err)
	}
	header := `{"alg":"ES256","jwk":` + string(k.pub) + `,"typ":"` + typ + `"}`
	payload, err := deflate(body)
	if err != nil {
		return nil, err
	}
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	sig, err := k.sign([]byte(input))
	if err != nil {
		return nil, fmt.Errorf("sign sync request: %w", err)
	}
	return armorWith(begin, end, input+"."+b64.EncodeToString(sig)), nil
}

// sign is an ES256 signature (r || s, 64 bytes) over input.
func (k *DeviceKey) sign(input []byte) ([]byte, error) {
	sum := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, sum[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

func armorWith(begin, end, compact string) []byte {
	var b strings.Builder
	b.Grow(len(compact) + len(compact)/foldWidth + len(begin) + len(end) + 4)
	b.WriteString(begin + "\n")
	for len(compact) > foldWidth {
		b.WriteString(compact[:foldWidth])
		b.WriteByte('\n')
		compact = compact[foldWidth:]
	}
	b.WriteString(compact + "\n" + end + "\n")
	return []byte(b.String())
}

// unarmorWith takes the compact JWS out of a file with the given armor:
// CRLF, blank space around it and an unfolded body are accepted, the armor
// lines are required.
func unarmorWith(data []byte, begin, end string) (string, bool) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.TrimSpace(string(data))
	body, ok := strings.CutPrefix(text, begin)
	if !ok {
		return "", false
	}
	body, ok = strings.CutSuffix(body, end)
	if !ok {
		return "", false
	}
	return stripBlanks(body), true
}

// ExchangeKindOf says which exchange file data is, from its first line,
// without checking anything else: "" when it is none.
func ExchangeKindOf(data []byte) ExchangeKind {
	text := strings.TrimSpace(string(bytes.TrimPrefix(data[:min(len(data), 256)], []byte("\xef\xbb\xbf"))))
	switch {
	case strings.HasPrefix(text, SyncRequestBeginLine):
		return KindSyncRequest
	case strings.HasPrefix(text, DeactivationReceiptBeginLine):
		return KindDeactivationReceipt
	}
	return ""
}

var syncRequestMembers = map[string]jsonKind{"license": kindString, "device_id": kindString, "subscription_id": kindString,
	"nonce": kindString, "created_at": kindString, "revocation_cursor": kindNumber, "heartbeats": kindArray, "usage": kindArray}

// ParseSyncRequest reads a sync request or a deactivation receipt (which,
// its armor says) and checks its signature against the device key its
// header carries: the file is what that key's holder wrote. Whether that
// key is the device's is the server's to check (Key). Unknown, duplicate
// or case-folded member names, and wrong types, are refused at any depth.
func ParseSyncRequest(data []byte) (*SyncRequest, error) {
	if len(data) > MaxExchangeFileSize {
		return nil, badExchange("file is %d bytes, more than the %d an exchange file may be", len(data), MaxExchangeFileSize)
	}
	r := &SyncRequest{}
	var compact, typ string
	if c, ok := unarmorWith(data, SyncRequestBeginLine, SyncRequestEndLine); ok {
		compact, typ, r.Kind = c, SyncRequestType, KindSyncRequest
	} else if c, ok := unarmorWith(data, DeactivationReceiptBeginLine, DeactivationReceiptEndLine); ok {
		compact, typ, r.Kind = c, DeactivationReceiptType, KindDeactivationReceipt
	} else {
		return nil, badExchange("not a sync request or deactivation receipt: its first line must be %s or %s, and its last the matching END line", SyncRequestBeginLine, DeactivationReceiptBeginLine)
	}
	if n := strings.Count(compact, "."); n != 2 {
		return nil, badExchange("a JWS compact serialization has 3 segments, this has %d", n+1)
	}
	h64, rest, _ := strings.Cut(compact, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	key, err := keyHeader(h64, typ, badExchange)
	if err != nil {
		return nil, err
	}
	if err := verifyES256(key, compact[:len(h64)+1+len(p64)], s64, badExchange); err != nil {
		if strings.HasSuffix(err.Error(), "bad signature") {
			return nil, badExchange("bad signature: the file was changed after the device signed it")
		}
		return nil, err
	}
	zipped, err := decodeSegment("payload", p64)
	if err != nil {
		return nil, badExchange("%v", err)
	}
	payload, err := inflate(zipped)
	if err != nil {
		return nil, err
	}
	top, lengths, err := checkSnakeObjectLengths(payload)
	if err != nil {
		return nil, badExchange("payload: %v", err)
	}
	if err := exchangeMembers("payload", top, syncRequestMembers, nil); err != nil {
		return nil, err
	}
	// Rows are counted before any is decoded: a small file of many tiny
	// rows costs a scan, not their memory.
	if n := lengths["usage"]; n > MaxExchangeUsage {
		return nil, badExchange("%d usage events is more than the %d one file may carry; the app sends the rest in its next request", n, MaxExchangeUsage)
	}
	if n := lengths["heartbeats"]; n > MaxExchangeHeartbeats {
		return nil, badExchange("%d heartbeats is more than the %d one file may carry", n, MaxExchangeHeartbeats)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		return nil, badExchange("payload: %v", err)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	r.Key = key
	digest := sha256.Sum256([]byte(compact))
	r.Digest = fmt.Sprintf("%x", digest)
	return r, nil
}

// deflate compresses a payload (raw DEFLATE, RFC 1951).
func deflate(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// inflate decompresses a payload, refusing one that inflates past
// MaxExchangePayload.
func inflate(data []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(data))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, MaxExchangePayload+1))
	if err != nil {
		return nil, badExchange("payload is not DEFLATE data: %v", err)
	}
	if len(out) > MaxExchangePayload {
		return nil, badExchange("payload inflates to more than %d bytes", MaxExchangePayload)
	}
	return out, nil
}

// ExchangeRejection is a row of a request that the server refused, with
// its reason: a usage event (EventID) or a heartbeat (HeartbeatAt). The
// machine sets it aside; the other rows are stored.
type ExchangeRejection struct {
	EventID     string     `json:"event_id,omitempty"`
	HeartbeatAt *time.Time `json:"heartbeat_at,omitempty"`
	Reason      string     `json:"reason"`
}

// SyncResponse is the server's answer to a sync request: bound to the
// request's nonce and device, it says what the server stored and brings
// what an online sync brings.
type SyncResponse struct {
	Issuer         string    `json:"iss"`
	IssuedAt       int64     `json:"iat"`
	Nonce          string    `json:"nonce"`
	RequestSHA256  string    `json:"request_sha256"`
	DeviceID       string    `json:"device_id"`
	SubscriptionID string    `json:"subscription_id"`
	Status         string    `json:"status"`
	ServerTime     time.Time `json:"server_time"`
	// Acknowledged are the request's usage event ids the server holds now
	// (stored by this upload or an earlier one): the machine drops them
	// from its queue.
	Acknowledged []string `json:"acknowledged"`
	// Heartbeats counts the request's heartbeats the server holds.
	Heartbeats  int                 `json:"heartbeats"`
	Rejected    []ExchangeRejection `json:"rejected"`
	Revocations []Revocation        `json:"revocations"`
	Cursor      int64               `json:"revocation_cursor"`
	// LicenseFile is a newer license file for the device (renewed, changed
	// terms, re-signed after a key change), or empty.
	LicenseFile    string   `json:"license_file,omitempty"`
	KeyEndorsement string   `json:"key_endorsement,omitempty"`
	KeyRevocations []string `json:"key_revocations,omitempty"`
}

// SignSyncResponse signs a response with the server's key (RS256, the
// license files' key) and armors it.
func SignSyncResponse(signer crypto.Signer, kid string, resp *SyncResponse) ([]byte, error) {
	if resp.Acknowledged == nil {
		resp.Acknowledged = []string{}
	}
	if resp.Rejected == nil {
		resp.Rejected = []ExchangeRejection{}
	}
	if resp.Revocations == nil {
		resp.Revocations = []Revocation{}
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("sign sync response: %w", err)
	}
	payload, err := deflate(body)
	if err != nil {
		return nil, err
	}
	compact, err := signRaw(signer, kid, SyncResponseType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign sync response: %w", err)
	}
	return armorWith(SyncResponseBeginLine, SyncResponseEndLine, compact), nil
}

var syncResponseMembers = map[string]jsonKind{"iss": kindString, "iat": kindNumber, "nonce": kindString, "request_sha256": kindString,
	"device_id": kindString, "subscription_id": kindString, "status": kindString, "server_time": kindString,
	"acknowledged": kindArray, "heartbeats": kindNumber, "rejected": kindArray, "revocations": kindArray,
	"revocation_cursor": kindNumber}

var syncResponseOptional = map[string]jsonKind{"license_file": kindString, "key_endorsement": kindString, "key_revocations": kindArray}

// exchangeMembers checks that members holds every required member with its
// kind, optional ones with theirs, and nothing else.
func exchangeMembers(what string, members, required, optional map[string]jsonKind) error {
	for name, kind := range required {
		if got, ok := members[name]; !ok || got != kind {
			return badExchange("%s: %q must be a %s", what, name, kind)
		}
	}
	for name, got := range members {
		if _, ok := required[name]; ok {
			continue
		}
		kind, ok := optional[name]
		if !ok {
			return badExchange("%s carries %q, which is not part of the format", what, name)
		}
		if got != kind {
			return badExchange("%s: %q must be a %s", what, name, kind)
		}
	}
	return nil
}

// ParseSyncResponse verifies a sync response against ks and decodes it.
// Whether it answers this machine's request is the caller's to check
// (Nonce, DeviceID).
func ParseSyncResponse(data []byte, ks KeySource) (*SyncResponse, error) {
	compact, err := syncResponseCompact(data)
	if err != nil {
		return nil, err
	}
	payload, err := verifyDeflated(compact, ks, SyncResponseType)
	if err != nil {
		return nil, err
	}
	return decodeSyncResponse(payload)
}

func syncResponseCompact(data []byte) (string, error) {
	if len(data) > MaxExchangeFileSize {
		return "", badExchange("file is %d bytes, more than the %d an exchange file may be", len(data), MaxExchangeFileSize)
	}
	compact, ok := unarmorWith(data, SyncResponseBeginLine, SyncResponseEndLine)
	if !ok {
		return "", badExchange("not a sync response: its first line must be %s, and its last %s", SyncResponseBeginLine, SyncResponseEndLine)
	}
	return compact, nil
}

func decodeSyncResponse(payload []byte) (*SyncResponse, error) {
	top, err := checkSnakeObject(payload)
	if err != nil {
		return nil, badExchange("sync response: %v", err)
	}
	if err := exchangeMembers("sync response", top, syncResponseMembers, syncResponseOptional); err != nil {
		return nil, err
	}
	var resp SyncResponse
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		return nil, badExchange("sync response: %v", err)
	}
	if resp.Issuer != Issuer || resp.Nonce == "" || resp.DeviceID == "" || resp.SubscriptionID == "" || resp.ServerTime.IsZero() {
		return nil, badExchange("sync response: iss, nonce, device_id, subscription_id and server_time are required")
	}
	return &resp, nil
}

// verifyDeflated verifies an RS256 JWS of typ, with the header rules of
// every signed document, and returns its inflated payload.
func verifyDeflated(compact string, ks KeySource, typ string) ([]byte, error) {
	if n := strings.Count(compact, "."); n != 2 {
		return nil, badExchange("a JWS compact serialization has 3 segments, this has %d", n+1)
	}
	h64, rest, _ := strings.Cut(compact, ".")
	p64, s64, _ := strings.Cut(rest, ".")
	h, err := docHeader(h64, typ, badExchange)
	if err != nil {
		return nil, err
	}
	sig, err := decodeSegment("signature", s64)
	if err != nil {
		return nil, badExchange("%v", err)
	}
	t := &Token{Header: h, signingInput: compact[:len(h64)+1+len(p64)], signature: sig}
	if err := t.Verify(ks); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidExchange, err)
	}
	zipped, err := decodeSegment("payload", p64)
	if err != nil {
		return nil, badExchange("%v", err)
	}
	return inflate(zipped)
}

// ParseSyncResponse verifies a sync response through the roots: its
// key_endorsement must be a root's endorsement of the key that signed it,
// not revoked by the root.
func (r *Roots) ParseSyncResponse(data []byte) (*SyncResponse, error) {
	compact, err := syncResponseCompact(data)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return nil, badExchange("not a JWS compact serialization")
	}
	zipped, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, badExchange("payload: %v", err)
	}
	raw, err := inflate(zipped)
	if err != nil {
		return nil, err
	}
	var unverified struct {
		KeyEndorsement string   `json:"key_endorsement"`
		KeyRevocations []string `json:"key_revocations"`
	}
	if err := json.Unmarshal(raw, &unverified); err != nil {
		return nil, badExchange("sync response: %v", err)
	}
	for _, stmt := range unverified.KeyRevocations {
		r.Revoke(stmt) // checked one by one against the roots
	}
	e, pub, err := ParseEndorsement(unverified.KeyEndorsement, r.keys)
	if err != nil {
		return nil, fmt.Errorf("%w: sync response: %w", ErrInvalidExchange, err)
	}
	r.mu.RLock()
	revoked := r.revoked[e.Kid]
	r.mu.RUnlock()
	if revoked {
		return nil, badExchange("sync response: its signing key %q was revoked by the root", e.Kid)
	}
	payload, err := verifyDeflated(compact, single{e.Kid, pub}, SyncResponseType)
	if err != nil {
		return nil, err
	}
	resp, err := decodeSyncResponse(payload)
	if err != nil {
		return nil, err
	}
	if !e.covers(time.Unix(resp.IssuedAt, 0)) {
		return nil, fmt.Errorf("%w: sync response: signed outside its key's endorsement window", ErrNotEndorsed)
	}
	return resp, nil
}
