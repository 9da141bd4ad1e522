package syncserver

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the transport-neutral class of an error. The HTTP layer maps each
// kind to one status in one table.
type Kind string

// Error kinds.
const (
	KindInvalid      Kind = "invalid"      // bad input: 400
	KindNotFound     Kind = "not_found"    // 404
	KindConflict     Kind = "conflict"     // state forbids it: 409
	KindForbidden    Kind = "forbidden"    // not allowed for this license: 403
	KindUnauthorized Kind = "unauthorized" // no or bad credentials: 401
	KindRateLimited  Kind = "rate_limited" // 429
	KindTooLarge     Kind = "too_large"    // 413
	KindInternal     Kind = "internal"     // a bug or an outage: 500, logged
	KindUnavailable  Kind = "unavailable"  // shutting down, database away: 503
)

// Error is a domain error: a kind for the transport, a stable snake_case
// code for clients (the contract's error codes), and a message for people.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Err     error // the cause, if any; never shown to clients
	// Field names the input at fault (the API's field name, e.g.
	// "max_devices"), so that a form can show the error beside it.
	Field string
	// RetryAfter, with KindRateLimited, is how long to wait.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by kind and code, so errors.Is(err,
// ErrNotFound) holds for any not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && (t.Code == "" || t.Code == e.Code)
}

// Errorf makes a domain error with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is: they match any error of their kind.
var (
	ErrNotFound = &Error{Kind: KindNotFound}
	ErrConflict = &Error{Kind: KindConflict}
	ErrInvalid  = &Error{Kind: KindInvalid}
)

// Contract error codes.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeNotFound             = "not_found"
	CodeConflict             = "conflict"
	CodeInvalidLicenseKey    = "invalid_license_key"
	CodeLicenseNotFound      = "license_not_found"
	CodeLicenseInactive      = "license_inactive"
	CodeDeviceBlocked        = "device_blocked"
	CodeDeviceLimit          = "device_limit_reached"
	CodeFingerprintMismatch  = "device_fingerprint_mismatch"
	CodeUnauthorized         = "unauthorized"
	CodeSubscriptionNotFound = "subscription_not_found"
	CodeDeviceNotFound       = "device_not_found"
	CodeDeviceMismatch       = "device_mismatch"
	CodeTokenInvalid         = "token_invalid"
	// CodeInvalidProof: an app call for an enrolled device came without a
	// valid DPoP proof made with its key (401).
	CodeInvalidProof = "invalid_proof"
	// CodeTrialUnavailable: the product offers no trial. CodeTrialUsed:
	// this device's trial ended or became a license.
	CodeTrialUnavailable = "trial_unavailable"
	CodeTrialUsed        = "trial_used"
	// Floating seats and rebinds (docs/floating.md).
	CodeNoFreeSeat         = "no_free_seat"         // 409, with Retry-After: every floating seat is leased
	CodeNotFloating        = "not_floating"         // 409: checkout of a license that is not floating
	CodeFloatingLicense    = "floating_license"     // 409: activation of a floating license (check out instead)
	CodeBorrowNotAllowed   = "borrow_not_allowed"   // 409: the plan lets no seat be borrowed
	CodeLeaseExpired       = "lease_expired"        // 409: the lease ended; check out again
	CodeRebindLimitReached = "rebind_limit_reached" // 409: the device's rebinds this year are used up
	CodeRateLimited        = "rate_limited"
	CodeRequestTooLarge    = "request_too_large"
	CodeInternal           = "internal_error"
	CodeUnavailable        = "unavailable"
)

// KindOf returns the kind of err: that of the first *Error in its chain, or
// KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
