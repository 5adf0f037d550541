package awsquery

import (
	"net/url"
	"strconv"
	"strings"
)

// Params is a decoded Query request: Action, Version and the operation's members.
type Params struct{ url.Values }

// String returns a member's value, "" when absent.
func (p Params) String(name string) string { return p.Get(name) }

// Has reports whether the member was sent at all.
func (p Params) Has(name string) bool { _, ok := p.Values[name]; return ok }

// Required returns a member's value or MissingParameter.
func (p Params) Required(name string) (string, error) {
	v := p.Get(name)
	if v == "" {
		return "", MissingParameter(name)
	}
	return v, nil
}

// Int returns an optional integer member; ok is false when absent.
func (p Params) Int(name string) (n int, ok bool, err error) {
	if !p.Has(name) {
		return 0, false, nil
	}
	n, err = strconv.Atoi(strings.TrimSpace(p.Get(name)))
	if err != nil {
		return 0, false, InvalidParameterValue("Invalid value for parameter %s: %q is not an integer.", name, p.Get(name))
	}
	return n, true, nil
}

// Bool returns an optional boolean member ("true"/"false", as the SDKs send them).
func (p Params) Bool(name string) (b bool, ok bool, err error) {
	if !p.Has(name) {
		return false, false, nil
	}
	switch strings.ToLower(p.Get(name)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, InvalidParameterValue("Invalid value for parameter %s: %q is not a boolean.", name, p.Get(name))
}

// List returns the members of a list serialised as Name.Member.1, Name.Member.2, ...
// (member is the model's locationName, e.g. "VpcSecurityGroupId" or "member").
// Numbering starts at 1 and stops at the first gap, as the SDKs send it.
func (p Params) List(name, member string) []string {
	var out []string
	for i := 1; ; i++ {
		k := name + "." + member + "." + strconv.Itoa(i)
		if !p.Has(k) {
			return out
		}
		out = append(out, p.Get(k))
	}
}
