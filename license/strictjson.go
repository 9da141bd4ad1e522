package license

import (
	"encoding/json"
	"errors"
	"fmt"
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

// errNonASCIIName marks a member name outside ASCII. Decoders fold case
// differently (Go's encoding/json reads "featureſ" as "features" and "K"
// as "k"; JavaScript does not), so such a name could make two verifiers
// read one signed object two ways; the format refuses it at any depth.
var errNonASCIIName = errors.New("member name is not ASCII")

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// checkObject scans one JSON object and returns the kind of each top-level
// member. It refuses anything but a single object, duplicate member names at
// any depth (compared after unescaping, so "\u0061lg" is "alg"), member
// names that are not ASCII (after unescaping, so "\u017f" too), and nesting
// deeper than maxDepth. It is a structural scan; callers decode the same
// bytes with encoding/json afterwards, which checks the rest of the grammar.
//
// It is hand-written rather than built on json.Decoder.Token because it runs
// on every verification and Token allocates for each token; see
// BenchmarkVerify.
func checkObject(data []byte) (map[string]jsonKind, error) {
	return scanObject(scanner{data: data})
}

// checkSnakeObject is checkObject for the signed documents that are not
// license files (the revocation list): every member name at any depth is
// snake_case, [a-z0-9_]+, so no two decoders can fold one name two ways.
func checkSnakeObject(data []byte) (map[string]jsonKind, error) {
	return scanObject(scanner{data: data, snake: true})
}

// checkSnakeObjectLengths is checkSnakeObject that also counts the
// elements of each top-level array member.
func checkSnakeObjectLengths(data []byte) (map[string]jsonKind, map[string]int, error) {
	lengths := map[string]int{}
	members, err := scanObject(scanner{data: data, snake: true, lengths: lengths})
	return members, lengths, err
}

// checkClaimsObject is checkObject that also says where the top-level
// member lift's value lies (start, end: the quoted string, or -1 when the
// member is absent or not a string), so that a caller may take a large
// string's bytes as they are instead of decoding them twice.
func checkClaimsObject(data []byte, lift string) (map[string]jsonKind, int, int, error) {
	s := scanner{data: data, lift: lift, liftStart: -1, liftEnd: -1}
	members, err := scanObjectAt(&s)
	return members, s.liftStart, s.liftEnd, err
}

func scanObject(s scanner) (map[string]jsonKind, error) { return scanObjectAt(&s) }

func scanObjectAt(s *scanner) (map[string]jsonKind, error) {
	s.space()
	if s.peek() != '{' {
		return nil, errors.New("not a JSON object")
	}
	members := make(map[string]jsonKind, 24)
	if err := s.object(0, members); err != nil {
		return nil, err
	}
	s.space()
	if s.i != len(s.data) {
		return nil, errors.New("data after the JSON object")
	}
	return members, nil
}

type scanner struct {
	data  []byte
	i     int
	snake bool // member names must be snake_case
	// lift names a top-level member whose string value's span is recorded
	// in liftStart and liftEnd.
	lift               string
	liftStart, liftEnd int
	// lengths, when set, receives the element count of each top-level
	// array member: a reader bounds rows before decoding any of them.
	lengths  map[string]int
	arrayLen int
}

func isSnake(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

var errSyntax = errors.New("not JSON: syntax error")

func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object scans an object at s.i. With top set it records member kinds;
// nested objects only check for duplicates.
func (s *scanner) object(depth int, top map[string]jsonKind) error {
	if depth > maxDepth {
		return errors.New("JSON nested too deeply")
	}
	s.i++ // {
	var seen []string
	s.space()
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.space()
		if s.peek() != '"' {
			return errSyntax
		}
		name, err := s.str()
		if err != nil {
			return err
		}
		if !isASCII(name) {
			return fmt.Errorf("%w %q", errNonASCIIName, name)
		}
		if s.snake && !isSnake(name) {
			return fmt.Errorf("member name %q is not snake_case", name)
		}
		if top != nil {
			if _, dup := top[name]; dup {
				return fmt.Errorf("%w %q", errDuplicate, name)
			}
		} else {
			for _, n := range seen {
				if n == name {
					return fmt.Errorf("%w %q", errDuplicate, name)
				}
			}
			seen = append(seen, name)
		}
		s.space()
		if s.peek() != ':' {
			return errSyntax
		}
		s.i++
		s.space()
		start := s.i
		kind, err := s.value(depth + 1)
		if err != nil {
			return err
		}
		if top != nil {
			top[name] = kind
			if kind == kindArray && s.lengths != nil {
				s.lengths[name] = s.arrayLen
			}
			if kind == kindString && s.lift != "" && name == s.lift {
				s.liftStart, s.liftEnd = start, s.i
			}
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

func (s *scanner) value(depth int) (jsonKind, error) {
	switch c := s.peek(); {
	case c == '{':
		return kindObject, s.object(depth, nil)
	case c == '[':
		if depth > maxDepth {
			return 0, errors.New("JSON nested too deeply")
		}
		s.i++
		s.space()
		if s.peek() == ']' {
			s.i++
			s.arrayLen = 0
			return kindArray, nil
		}
		for n := 1; ; n++ {
			s.space()
			if _, err := s.value(depth + 1); err != nil {
				return 0, err
			}
			s.space()
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				s.arrayLen = n // this array's, set after any nested one's
				return kindArray, nil
			default:
				return 0, errSyntax
			}
		}
	case c == '"':
		_, err := s.str()
		return kindString, err
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		for s.i < len(s.data) {
			c := s.data[s.i]
			if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
				break
			}
			s.i++
		}
		if !json.Valid(s.data[start:s.i]) {
			return 0, errSyntax
		}
		return kindNumber, nil
	case c == 't':
		return kindBool, s.literal("true")
	case c == 'f':
		return kindBool, s.literal("false")
	case c == 'n':
		return kindNull, s.literal("null")
	}
	return 0, errSyntax
}

func (s *scanner) literal(word string) error {
	if len(s.data)-s.i < len(word) || string(s.data[s.i:s.i+len(word)]) != word {
		return errSyntax
	}
	s.i += len(word)
	return nil
}

// str scans a string at s.i and returns its value. Only a string with
// escapes is decoded by encoding/json; the common case allocates once.
func (s *scanner) str() (string, error) {
	start := s.i
	s.i++ // opening quote
	escaped := false
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '\\':
			escaped = true
			s.i += 2
		case c == '"':
			s.i++
			raw := s.data[start:s.i]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var out string
			if err := json.Unmarshal(raw, &out); err != nil {
				return "", errSyntax
			}
			return out, nil
		case c < 0x20:
			return "", errSyntax
		default:
			s.i++
		}
	}
	return "", errSyntax
}

// requireMembers checks that a JSON object has each named member with its
// kind; others are allowed (and ignored by the caller).
func requireMembers(data []byte, want map[string]jsonKind) error {
	members, err := checkObject(data)
	if err != nil {
		return err
	}
	return haveMembers(members, want)
}

// haveMembers is requireMembers on members already scanned.
func haveMembers(members map[string]jsonKind, want map[string]jsonKind) error {
	for name, kind := range want {
		got, ok := members[name]
		switch {
		case !ok:
			return fmt.Errorf("missing %q", name)
		case got != kind:
			return fmt.Errorf("%q is a %s, want a %s", name, got, kind)
		}
	}
	return nil
}
