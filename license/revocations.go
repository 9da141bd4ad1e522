package license

import (
	"encoding/json"
	"fmt"
	"time"
)

// RevocationListType is the typ of a signed revocation list: the server's
// GET /api/v1/licensing/revocations with Accept: application/jose, carried
// to air-gapped machines by hand.
const RevocationListType = "flowlytix-revocations+jwt"

// Revocation states, as the revocation list carries them.
const (
	StateRevoked   = "revoked"
	StateSuspended = "suspended"
	StateBlocked   = "blocked"
	StateActive    = "active" // reinstated
	// StateDeactivated, on a device's entry, says its seat was freed: a
	// file the server signed no later than the entry's time is revoked on
	// that device (a later file, from activating again, is not).
	StateDeactivated = "deactivated"
)

// Revocation is one entry of the revocation list. An entry without a device
// id is about the whole subscription; one with a device id about that device
// alone. Of a subscription's (or device's) entries, the one with the highest
// Seq is the current state.
type Revocation struct {
	Seq            int64     `json:"seq"`
	SubscriptionID string    `json:"subscription_id"`
	DeviceID       string    `json:"device_id,omitempty"` // the app's device id
	State          string    `json:"state"`
	At             time.Time `json:"at"`
}

// RevocationList is the payload of a signed revocation list: the entries
// after a cursor and the cursor to ask from next.
type RevocationList struct {
	Issuer      string       `json:"iss"`
	IssuedAt    int64        `json:"iat"`
	Revocations []Revocation `json:"revocations"`
	Cursor      int64        `json:"revocation_cursor"`
	// KeyEndorsement is the signing key's endorsement by the root, so that
	// an app that pins only the root can verify the list.
	KeyEndorsement string `json:"key_endorsement,omitempty"`
	// KeyRevocations are the root's statements revoking signing keys.
	KeyRevocations []string `json:"key_revocations,omitempty"`
}

// ParseRevocationList verifies a signed revocation list against ks, with the
// strict rules of every file of this format, and decodes it.
func ParseRevocationList(compact string, ks KeySource) (*RevocationList, error) {
	payload, err := VerifyJSON(compact, ks, RevocationListType)
	if err != nil {
		return nil, err
	}
	var list RevocationList
	if err := json.Unmarshal(payload, &list); err != nil {
		return nil, fmt.Errorf("%w: revocation list: %v", ErrInvalid, err)
	}
	return &list, nil
}
