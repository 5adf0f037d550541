package awsquery

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Member says what a service does with one request member of an action (its name before
// the first dot: Tags for Tags.member.1.Key). A member the action carries out has no
// values; one it does not carry out lists the values it accepts (case-insensitive), which
// are exactly what the service does anyway (AWS's default), and Why others are refused:
// no values at all, refused whenever sent.
type Member struct {
	Only []string
	Why  string
	// A list member is sent as NAME.ELEM.N (N from 1, without gaps), each entry a value or,
	// with Fields, NAME.ELEM.N.FIELD (a field ending in ".#" is a list: FIELD.1, FIELD.2, ...).
	Elem   string
	Fields []string
	// A filters member names the filters the action applies (none: every filter is
	// refused); the service's MemberRules.Filters checks them, as each service spells
	// filters its own way.
	Filters   []string
	IsFilters bool
}

// Acted is a member the action carries out.
var Acted = Member{}

// OnlyDefault is a member the action does not carry out: it accepts only values that ask
// for what the service does anyway, and says why others are refused.
func OnlyDefault(why string, values ...string) Member { return Member{Only: values, Why: why} }

// List is a list member the action carries out: its entries' element name (the model's
// locationName) and, for a list of structures, their fields.
func List(elem string, fields ...string) Member { return Member{Elem: elem, Fields: fields} }

// Filters is a filters member applying the named filters.
func Filters(names ...string) Member { return Member{Filters: names, IsFilters: true} }

// Members are an action's request members, by name.
type Members map[string]Member

// With returns m with more members; m itself is not changed.
func (m Members) With(more Members) Members {
	out := maps.Clone(m)
	if out == nil {
		out = Members{}
	}
	maps.Copy(out, more)
	return out
}

// Has reports whether the action declares the member.
func (m Members) Has(name string) bool { _, ok := m[name]; return ok }

// MemberRules are how one service refuses what an action does not carry out: the members
// every request may carry and the service's own errors.
type MemberRules struct {
	Envelope Members
	// Unknown is the error for a member (or, when Strict, a key) the action does not
	// declare; the name comes clipped.
	Unknown func(action, name string) error
	// NotDefault is the error for a member the action does not carry out, sent with a
	// value other than its default (why says so).
	NotDefault func(why string) error
	// Strict: every key is sent once (a repeat is NotDefault), and only list and filters
	// members have parts (NAME.x of any other member is Unknown). Without it, a member's
	// parts are the action's to read and a repeated key is read once, its first value.
	Strict bool
	// Filters checks the request's filters against a filters member's names.
	Filters func(p Params, names []string) error
}

// Check refuses the first member, in name order (the same request always gets the same
// answer), that the action ms does not carry out, unless it asks for what the service does
// anyway. It runs before the action, so a refused request changes nothing.
func (r MemberRules) Check(action string, p Params, ms Members) error {
	filtersChecked := false
	entries := map[string]map[int]bool{} // list member -> entry numbers sent
	for _, k := range slices.Sorted(maps.Keys(p.Values)) {
		name, rest, nested := strings.Cut(k, ".")
		m, ok := ms[name]
		if !ok {
			m, ok = r.Envelope[name]
		}
		switch {
		case !ok:
			return r.Unknown(action, Clip(name))
		case r.Strict && len(p.Values[k]) > 1:
			// Every reader takes the first value: a second one would be ignored.
			return r.NotDefault(Clip(k) + " is given more than once.")
		case m.Elem != "":
			n, ok := listEntry(m, rest)
			if !ok {
				return r.Unknown(action, Clip(k))
			}
			if entries[name] == nil {
				entries[name] = map[int]bool{}
			}
			entries[name][n] = true
		case m.IsFilters:
			if !filtersChecked && r.Filters != nil {
				if err := r.Filters(p, m.Filters); err != nil {
					return err
				}
			}
			filtersChecked = true
		case r.Strict && nested:
			// A scalar member has no parts: NAME.x would be read by nothing.
			return r.Unknown(action, Clip(k))
		case m.Why == "":
			continue
		case !slices.ContainsFunc(m.Only, func(v string) bool { return strings.EqualFold(v, p.Get(k)) }):
			return r.NotDefault(m.Why)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		// The actions read entries 1, 2, ... up to the first missing one: one after a gap
		// would be ignored.
		for n := 1; n <= len(entries[name]); n++ {
			if !entries[name][n] {
				return InvalidParameterValue("The entries of %s must be numbered from 1 without gaps.", name)
			}
		}
	}
	return nil
}

// listEntry parses what follows a list member's name, ELEM.N or ELEM.N.FIELD, and returns N.
func listEntry(m Member, rest string) (int, bool) {
	parts := strings.SplitN(rest, ".", 3)
	if len(parts) < 2 || parts[0] != m.Elem {
		return 0, false
	}
	if len(m.Fields) == 0 && len(parts) != 2 ||
		len(m.Fields) > 0 && (len(parts) != 3 || !slices.ContainsFunc(m.Fields, func(f string) bool { return fieldIs(f, parts[2]) })) {
		return 0, false
	}
	return index(parts[1])
}

// fieldIs reports whether key names the field f, or an entry of f when f is a list.
func fieldIs(f, key string) bool {
	prefix, isList := strings.CutSuffix(f, "#")
	if !isList {
		return key == f
	}
	n, ok := strings.CutPrefix(key, prefix)
	_, ok2 := index(n)
	return ok && ok2
}

// index parses an entry number: 1, 2, ... written without leading zeros.
func index(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && strconv.Itoa(n) == s
}
