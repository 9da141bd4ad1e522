package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/flowlytix/licensing/syncserver"
)

// MaxBody is the largest request body accepted: 1 MiB, the contract's.
const MaxBody = 1 << 20

// readBody reads the whole body, refusing one over MaxBody with 413.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "reading the body failed: %v", err)
	}
	if len(body) > MaxBody {
		return nil, errorf(syncserver.KindTooLarge, syncserver.CodeRequestTooLarge, "the body is larger than %d bytes", MaxBody)
	}
	return body, nil
}

// decode reads one JSON object into v strictly: unknown fields, wrong
// types, trailing data and an empty body are 400 invalid_request, a body
// over 1 MiB 413. When empty is true an empty body is taken as {}.
func decode(r *http.Request, v any, empty bool) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if empty {
			return nil
		}
		return errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "the body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(syncserver.KindInvalid, syncserver.CodeInvalidRequest, "the body holds more than one JSON value")
	}
	return nil
}

// jsonProblem words a decoding error for people, cut to maxProblem bytes:
// the decoder quotes what it read (a number literal or a field name of up
// to the whole body), and an error message is no place to echo a megabyte.
func jsonProblem(err error) string {
	msg := jsonProblemText(err)
	if len(msg) > maxProblem {
		n := maxProblem
		for n > 0 && !utf8.RuneStart(msg[n]) {
			n--
		}
		msg = msg[:n] + "…"
	}
	return msg
}

const maxProblem = 200

func jsonProblemText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s must be a %s, not a %s", typ.Field, typ.Type.String(), typ.Value)
		}
		return fmt.Sprintf("want a JSON object, not a %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends early"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON: " + err.Error()
}
