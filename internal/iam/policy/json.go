package policy

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// A small JSON tree that keeps object members in document order and rejects
// duplicate keys (the policy grammar forbids them; encoding/json would
// silently keep the last one).

type jkind uint8

const (
	jString jkind = iota
	jNumber
	jBool
	jNull
	jArray
	jObject
)

type jmember struct {
	key string
	val *jvalue
}

type jvalue struct {
	kind jkind
	str  string // string value, number literal, or "true"/"false"
	arr  []*jvalue
	obj  []jmember
}

const maxJSONDepth = 64

var errJSON = errors.New("invalid JSON")

type jsonError struct{ detail string }

func (e *jsonError) Error() string { return e.detail }

func decodeJSON(doc string) (*jvalue, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	v, err := readJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &jsonError{"trailing data after the policy document"}
	}
	return v, nil
}

func readJSON(dec *json.Decoder, depth int) (*jvalue, error) {
	if depth > maxJSONDepth {
		return nil, &jsonError{"document nested too deeply"}
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, &jsonError{"unexpected end of document"}
		}
		return nil, &jsonError{err.Error()}
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &jvalue{kind: jObject}
			var seen map[string]bool // used once the object is large
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, &jsonError{err.Error()}
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errJSON
				}
				dup := false
				if seen == nil && len(v.obj) < 16 {
					for _, m := range v.obj {
						dup = dup || m.key == key
					}
				} else {
					if seen == nil {
						seen = make(map[string]bool, 2*len(v.obj))
						for _, m := range v.obj {
							seen[m.key] = true
						}
					}
					dup = seen[key]
					seen[key] = true
				}
				if dup {
					return nil, &jsonError{"duplicate key " + quote(key)}
				}
				val, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.obj = append(v.obj, jmember{key, val})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, &jsonError{err.Error()}
			}
			return v, nil
		case '[':
			v := &jvalue{kind: jArray}
			for dec.More() {
				e, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, &jsonError{err.Error()}
			}
			return v, nil
		}
		return nil, errJSON
	case string:
		return &jvalue{kind: jString, str: t}, nil
	case json.Number:
		return &jvalue{kind: jNumber, str: string(t)}, nil
	case bool:
		if t {
			return &jvalue{kind: jBool, str: "true"}, nil
		}
		return &jvalue{kind: jBool, str: "false"}, nil
	case nil:
		return &jvalue{kind: jNull}, nil
	}
	return nil, errJSON
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (k jkind) String() string {
	switch k {
	case jString:
		return "string"
	case jNumber:
		return "number"
	case jBool:
		return "boolean"
	case jNull:
		return "null"
	case jArray:
		return "array"
	default:
		return "object"
	}
}
