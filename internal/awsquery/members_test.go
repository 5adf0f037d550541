package awsquery

import (
	"errors"
	"net/url"
	"testing"
)

// errOf is a service's error for a refusal, naming what was refused.
type errOf string

func (e errOf) Error() string { return string(e) }

func testRules(strict bool) MemberRules {
	return MemberRules{
		Envelope:   Members{"Action": Acted, "Version": Acted},
		Unknown:    func(action, name string) error { return errOf("unknown " + action + " " + name) },
		NotDefault: func(why string) error { return errOf("not default: " + why) },
		Strict:     strict,
		Filters: func(p Params, names []string) error {
			if v := p.Get("Filters.Filter.1.Name"); v != "" && v != names[0] {
				return errOf("filter " + v)
			}
			return nil
		},
	}
}

var testMembers = Members{
	"Name":    Acted,
	"Mode":    OnlyDefault("Mode must be plain.", "plain"),
	"Never":   OnlyDefault("Never is not supported."),
	"Tags":    List("Tag", "Key", "Value"),
	"Ids":     List("Id"),
	"Filters": Filters("name"),
}

func check(t *testing.T, r MemberRules, kv ...string) string {
	t.Helper()
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	err := r.Check("Act", Params{v}, testMembers)
	if err == nil {
		return ""
	}
	var e errOf
	var ae *Error
	switch {
	case errors.As(err, &e):
		return string(e)
	case errors.As(err, &ae):
		return ae.Code + ": " + ae.Message
	}
	t.Fatalf("unexpected error type %T", err)
	return ""
}

// The one check every query service runs, with each service's own errors.
func TestMemberRules(t *testing.T) {
	strict, lax := testRules(true), testRules(false)
	for _, c := range []struct {
		rules MemberRules
		kv    []string
		want  string
	}{
		{strict, []string{"Action", "Act", "Name", "a", "Mode", "PLAIN"}, ""}, // defaults compare case-insensitively
		{strict, []string{"Bogus", "1"}, "unknown Act Bogus"},
		{lax, []string{"Bogus.1.x", "1"}, "unknown Act Bogus"},
		{strict, []string{"Mode", "fancy"}, "not default: Mode must be plain."},
		{lax, []string{"Never", ""}, "not default: Never is not supported."},
		// Strict: a key once, parts only below lists and filters.
		{strict, []string{"Name", "a", "Name", "b"}, "not default: Name is given more than once."},
		{lax, []string{"Name", "a", "Name", "b"}, ""},
		{strict, []string{"Name.1", "a"}, "unknown Act Name.1"},
		{lax, []string{"Name.1", "a"}, ""},
		// Lists: the declared element and fields, numbered from 1 without gaps.
		{strict, []string{"Tags.Tag.1.Key", "k", "Tags.Tag.1.Value", "v", "Ids.Id.1", "i"}, ""},
		{strict, []string{"Tags.Tag.1.Bogus", "k"}, "unknown Act Tags.Tag.1.Bogus"},
		{strict, []string{"Ids.Id.01", "i"}, "unknown Act Ids.Id.01"},
		{strict, []string{"Ids.Member.1", "i"}, "unknown Act Ids.Member.1"},
		{strict, []string{"Ids.Id.2", "i"}, "InvalidParameterValue: The entries of Ids must be numbered from 1 without gaps."},
		// Filters: the service's own check, with the names the action applies.
		{strict, []string{"Filters.Filter.1.Name", "name"}, ""},
		{strict, []string{"Filters.Filter.1.Name", "other"}, "filter other"},
	} {
		if got := check(t, c.rules, c.kv...); got != c.want {
			t.Errorf("strict=%v %v: %q, want %q", c.rules.Strict, c.kv, got, c.want)
		}
	}
}

func TestMembersWithLeavesTheOriginal(t *testing.T) {
	base := Members{"A": Acted}
	more := base.With(Members{"B": Acted})
	if base.Has("B") || !more.Has("A") || !more.Has("B") {
		t.Fatalf("base %v, more %v", base, more)
	}
}
