package license

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonKind is the JSON type of a member's value.
type jsonKind byte

const (
	kindString jsonKind = 's'
	kindNumber jsonKind = 'n'
	kindBool   jsonKind = 'b'
	kindNull   jsonKind = 'z'
	kindArray  jsonKind = 'a'
	kindObject jsonKind = 'o'
)

func (k jsonKind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindBool:
		return "boolean"
	case kindNull:
		return "null"
	case kindArray:
		return "array"
	case kindObject:
		return "object"
	}
	return "unknown"
}

// maxDepth bounds nesting in headers and claims; the format is flat.
const maxDepth = 8

// errDuplicate marks a JSON object that names one member twice. Parsers
// disagree on which copy wins, so a signed object with duplicates could mean
// different things to different verifiers; the format refuses it outright.
var errDuplicate = errors.New("duplicate member name")

// checkObject walks one JSON object and returns the kind of each top-level
// member. It refuses anything but a single object, duplicate member names at
// any depth, and nesting deeper than maxDepth.
func checkObject(data []byte) (map[string]jsonKind, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	members := make(map[string]jsonKind, 24)
	for dec.More() {
		name, err := memberName(dec)
		if err != nil {
			return nil, err
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("%w %q", errDuplicate, name)
		}
		kind, err := skipValue(dec, 1)
		if err != nil {
			return nil, err
		}
		members[name] = kind
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return members, nil
}

func memberName(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	name, ok := tok.(string)
	if !ok {
		return "", errors.New("not JSON: object key is not a string")
	}
	return name, nil
}

// skipValue consumes one value and reports its kind, checking nested objects
// for duplicate names too.
func skipValue(dec *json.Decoder, depth int) (jsonKind, error) {
	if depth > maxDepth {
		return 0, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("not JSON: %w", err)
	}
	switch v := tok.(type) {
	case string:
		return kindString, nil
	case json.Number:
		return kindNumber, nil
	case bool:
		return kindBool, nil
	case nil:
		return kindNull, nil
	case json.Delim:
		switch v {
		case '[':
			for dec.More() {
				if _, err := skipValue(dec, depth+1); err != nil {
					return 0, err
				}
			}
			_, err := dec.Token()
			return kindArray, err
		case '{':
			seen := make(map[string]struct{})
			for dec.More() {
				name, err := memberName(dec)
				if err != nil {
					return 0, err
				}
				if _, dup := seen[name]; dup {
					return 0, fmt.Errorf("%w %q", errDuplicate, name)
				}
				seen[name] = struct{}{}
				if _, err := skipValue(dec, depth+1); err != nil {
					return 0, err
				}
			}
			_, err := dec.Token()
			return kindObject, err
		}
	}
	return 0, errors.New("not JSON: unexpected token")
}
