// Package webhooks sends the server's events to the vendor's endpoints:
// Standard Webhooks signatures (webhook-id, webhook-timestamp,
// webhook-signature: v1,<base64 HMAC-SHA256>, with the specification's own
// library), a timeout per attempt, and outbound address rules that keep a
// webhook from reaching this machine, the private network or a cloud's
// metadata service, checked on the address actually dialled so that DNS
// rebinding cannot get round them. The dispatcher loop calls
// syncserver.Service, where the delivery rules live.
package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/flowlytix/licensing/internal/poll"
	"github.com/flowlytix/licensing/syncserver"
)

// DefaultTimeout bounds one attempt, connection to last byte.
const DefaultTimeout = 10 * time.Second

// Sender is the syncserver.WebhookSender over HTTP.
type Sender struct {
	client *http.Client
	allow  []netip.Prefix
}

// NewSender makes a sender. allow names the ranges deliveries may reach
// beyond the public internet (--webhook-allow); none by default.
func NewSender(allow []netip.Prefix, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	s := &Sender{allow: allow}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: s.control}
	s.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			Proxy:               nil, // a proxy would dial for us, past the address rules
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: timeout,
		},
		// A redirect is not followed: the receiver's answer is its answer,
		// and a redirect could lead to an address the rules refuse.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// ParseAllow reads --webhook-allow: CIDRs or single addresses, comma
// separated.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("--webhook-allow %q: want CIDRs such as 10.0.0.0/8 or addresses, comma separated", part)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// errForbidden marks a dial the address rules refused.
var errForbidden = errors.New("forbidden address")

// control runs on every connection the client makes, with the address it
// is about to connect to: after DNS, so a name that resolves to a private
// address (or changes to one between checks) is refused all the same.
func (s *Sender) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errForbidden, address)
	}
	a := ap.Addr().Unmap()
	for _, p := range s.allow {
		if p.Contains(a) {
			return nil
		}
	}
	if Forbidden(a) {
		return fmt.Errorf("%w: %s is loopback, private, link-local or a metadata address; name it in --webhook-allow to deliver there", errForbidden, a)
	}
	return nil
}

// Forbidden reports an address deliveries may not reach by default.
func Forbidden(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(),
		a.IsInterfaceLocalMulticast(), a.IsMulticast():
		return true
	}
	for _, p := range forbiddenRanges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forbiddenRanges are the ranges beyond the standard library's categories:
// "this network", shared address space (carrier NAT), the IETF protocol
// assignments, benchmarking, reserved, the metadata services of clouds
// (AWS's IPv6 one, Azure's wire server), site-local, IPv4-compatible,
// Teredo, local-use NAT64, and IPv4 carried in NAT64 and 6to4 (which could
// reach a private IPv4 address).
var forbiddenRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("168.63.129.16/32"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fd00:ec2::/32"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2002::/16"),
}

// body is what every delivery carries (Standard Webhooks' payload shape).
type body struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Payload is an event's delivery body.
func Payload(e *syncserver.Event) ([]byte, error) {
	return json.Marshal(body{Type: e.Type, Timestamp: e.CreatedAt.UTC(), Data: e.Data})
}

// Send delivers one event, signed with the endpoint's secret at time at.
func (s *Sender) Send(ctx context.Context, endpointURL, secret string, e *syncserver.Event, at time.Time) syncserver.WebhookResult {
	start := time.Now()
	fail := func(format string, args ...any) syncserver.WebhookResult {
		return syncserver.WebhookResult{Latency: time.Since(start), Error: fmt.Sprintf(format, args...)}
	}
	payload, err := Payload(e)
	if err != nil {
		return fail("encode: %v", err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fail("the endpoint's secret: %v", err)
	}
	sig, err := wh.Sign(e.ID, at, payload)
	if err != nil {
		return fail("sign: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpointURL, bytes.NewReader(payload))
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flowlytix-licensing-webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, e.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(at.Unix()))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, errForbidden) {
			return fail("refused: %v", unwrapDial(err))
		}
		return fail("no answer: %v", err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	r := syncserver.WebhookResult{Status: resp.StatusCode, Latency: time.Since(start), Response: strings.ToValidUTF8(string(excerpt), "?")}
	if !r.OK() {
		r.Error = "HTTP " + resp.Status
	}
	return r
}

func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Run delivers in the background until ctx ends, as owner (this
// replica's name): DispatchWebhooks every poll, at once again while there
// was work.
func Run(ctx context.Context, svc *syncserver.Service, owner string, every time.Duration, log *slog.Logger) {
	poll.Run(ctx, every, log, "webhook delivery", func(ctx context.Context) (int, error) { return svc.DispatchWebhooks(ctx, owner) })
}
