package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/flowlytix/licensing/syncserver"
)

// statusOf is the one table from error kinds to HTTP statuses.
var statusOf = map[syncserver.Kind]int{
	syncserver.KindInvalid:      http.StatusBadRequest,
	syncserver.KindNotFound:     http.StatusNotFound,
	syncserver.KindConflict:     http.StatusConflict,
	syncserver.KindForbidden:    http.StatusForbidden,
	syncserver.KindUnauthorized: http.StatusUnauthorized,
	syncserver.KindRateLimited:  http.StatusTooManyRequests,
	syncserver.KindTooLarge:     http.StatusRequestEntityTooLarge,
	syncserver.KindUnavailable:  http.StatusServiceUnavailable,
	syncserver.KindInternal:     http.StatusInternalServerError,
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with the contract's error shape. Internal errors are
// logged with their cause and answered with a generic message; everything
// else says what was wrong.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var de *syncserver.Error
	if !errors.As(err, &de) {
		if r.Context().Err() != nil {
			de = &syncserver.Error{Kind: syncserver.KindUnavailable, Code: syncserver.CodeUnavailable, Message: "the request was cancelled"}
		} else {
			de = &syncserver.Error{Kind: syncserver.KindInternal, Code: syncserver.CodeInternal, Message: "internal error", Err: err}
		}
	}
	status, ok := statusOf[de.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	switch {
	case de.RetryAfter > 0:
		retryAfter(w, de.RetryAfter)
	case de.Kind == syncserver.KindUnavailable:
		// Shutting down or a cancelled request: another replica, or this
		// one in a moment, will answer.
		retryAfter(w, time.Second)
	}
	if de.Code == syncserver.CodeInvalidProof {
		// RFC 9449 section 7.1: the scheme, the error and the algorithms
		// a proof may use.
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_dpop_proof", algs="ES256"`)
	}
	var body errorBody
	body.Error.Code = de.Code
	body.Error.Message = de.Message
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "request_id", requestID(r.Context()), "route", routeOf(r), "err", err)
		if de.Kind == syncserver.KindInternal {
			body.Error.Code = syncserver.CodeInternal
			body.Error.Message = "internal error; the server logged it with request id " + requestID(r.Context())
		}
	}
	if body.Error.Code == "" {
		body.Error.Code = string(de.Kind)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func errorf(kind syncserver.Kind, code, format string, args ...any) error {
	return syncserver.Errorf(kind, code, format, args...)
}
