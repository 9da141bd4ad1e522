package syncserver

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"time"

	"github.com/flowlytix/licensing/license"
)

// DefaultProofWindow is how far a DPoP proof's iat may be from the server's
// clock, either way: wide enough for clocks a little off, narrow enough
// that the proof ids to remember stay few.
const DefaultProofWindow = 5 * time.Minute

// Proof is the DPoP proof an app call carried, with the request it came
// on: the proof must have been made for that method and URL.
type Proof struct {
	// JWS is the DPoP header's value; empty when the call carried none.
	JWS    string
	Method string
	// URL is the URL the app reached: the server's public URL (or the
	// request's own scheme and host) and the path, without the query.
	URL string
	// Admit, when set, is told who the caller proved to be (its key's
	// thumbprint, or for a device without a key, the device) before any
	// work is done for it; an error refuses the call. The HTTP API limits
	// each device's rate here: after the proof, so that a copy of the
	// file cannot spend the device's allowance.
	Admit func(caller string) error
}

func (p Proof) admit(caller string) error {
	if p.Admit == nil {
		return nil
	}
	return p.Admit(caller)
}

// checkedProof is a proof that passed every check but replay, which is
// taken with the call's writes (UseProofID).
type checkedProof struct {
	*license.Proof
	id      string    // what UseProofID remembers
	expires time.Time // until when
}

func invalidProof(format string, args ...any) error {
	return Errorf(KindUnauthorized, CodeInvalidProof, format, args...)
}

// parseProof checks a proof's form, signature, method, URL and time. It
// does not say whose key it is.
func (s *Service) parseProof(p Proof, now time.Time) (*checkedProof, error) {
	if p.JWS == "" {
		return nil, invalidProof("this call needs a DPoP proof made with the device's key (the DPoP header); update the app, or activate it again")
	}
	pr, err := s.proofs.Parse(p.JWS)
	if err != nil {
		return nil, invalidProof("%v", err)
	}
	if err := pr.Check(p.Method, p.URL, now, s.proofWindow); err != nil {
		return nil, invalidProof("%v", err)
	}
	// 15 bytes of the hash: unique enough among the proofs of one window,
	// and 20 characters of index key.
	sum := sha256.Sum256([]byte(pr.Key.Thumbprint + "." + pr.ID))
	return &checkedProof{Proof: pr, id: base64.RawURLEncoding.EncodeToString(sum[:15]), expires: pr.IssuedAt.Add(s.proofWindow)}, nil
}

// proofForDevice checks an app call's proof against the device it is for.
// A device with a key needs a valid proof made with it. A device without
// one (activated by an app from before device keys) is taken without a
// proof; a valid proof it carries is returned, for Sync to enrol its key.
func (s *Service) proofForDevice(p Proof, dev *Device, now time.Time) (*checkedProof, error) {
	if !dev.Enrolled() {
		if p.JWS == "" {
			return nil, p.admit("device:" + dev.ID)
		}
		pr, err := s.parseProof(p, now)
		if err != nil {
			return nil, err
		}
		return pr, p.admit("key:" + pr.Key.Thumbprint)
	}
	pr, err := s.parseProof(p, now)
	if err != nil {
		return nil, err
	}
	if pr.Key.Thumbprint != dev.KeyThumbprint {
		return nil, invalidProof("the DPoP proof is made with another key than this device's; activate the device again if its key was lost")
	}
	return pr, p.admit("key:" + pr.Key.Thumbprint)
}

// useProof takes a proof's id: a second use within the window is refused.
func (s *Service) useProof(ctx context.Context, st Store, pr *checkedProof) error {
	if pr == nil {
		return nil
	}
	return st.UseProofID(ctx, pr.id, pr.expires)
}

// DeviceRevocations answers the revocation list a device may read: its own
// subscription's entries after since, for the device whose key made the
// proof. A proof from a key no device holds is refused, so the list of
// every customer's subscriptions stays with the admins.
func (s *Service) DeviceRevocations(ctx context.Context, p Proof, since int64) ([]Revocation, int64, error) {
	subs, err := s.proofSubscriptions(ctx, p, since)
	if err != nil {
		return nil, 0, err
	}
	var out []Revocation
	var cursor int64
	for _, id := range subs {
		revs, c, err := s.store.RevocationsFor(ctx, id, since)
		if err != nil {
			return nil, 0, err
		}
		out, cursor = append(out, revs...), max(cursor, c)
	}
	sortRevocations(out)
	if out == nil {
		out = []Revocation{}
	}
	return out, max(cursor, since), nil
}

// SignedDeviceRevocations is DeviceRevocations as a signed list.
func (s *Service) SignedDeviceRevocations(ctx context.Context, p Proof, since int64) (string, error) {
	revs, cursor, err := s.DeviceRevocations(ctx, p, since)
	if err != nil {
		return "", err
	}
	return s.signRevocations(revs, cursor)
}

// proofSubscriptions checks a proof made by a device's key, takes its id,
// and returns the subscriptions of the devices holding that key.
func (s *Service) proofSubscriptions(ctx context.Context, p Proof, since int64) ([]string, error) {
	if since < 0 {
		return nil, invalidf("since must not be negative")
	}
	pr, err := s.parseProof(p, s.Now())
	if err != nil {
		return nil, err
	}
	if err := p.admit("key:" + pr.Key.Thumbprint); err != nil {
		return nil, err
	}
	devs, err := s.store.DevicesByKey(ctx, pr.Key.Thumbprint)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var subs []string
	for _, d := range devs {
		if !seen[d.SubscriptionID] {
			seen[d.SubscriptionID] = true
			subs = append(subs, d.SubscriptionID)
		}
	}
	if len(subs) == 0 {
		return nil, invalidProof("no device holds the key that made this DPoP proof; activate the device again")
	}
	if err := s.useProof(ctx, s.store, pr); err != nil {
		return nil, err
	}
	return subs, nil
}

func sortRevocations(r []Revocation) {
	slices.SortFunc(r, func(a, b Revocation) int { return cmp.Compare(a.Seq, b.Seq) })
}
