package policy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy language versions.
const (
	Version2012 = "2012-10-17" // current; policy variables are substituted
	Version2008 = "2008-10-17" // legacy; "${...}" is literal text
)

// Policy is a parsed identity-based policy document.
type Policy struct {
	// Version is the Version element as written: Version2012, Version2008,
	// or "" when the document has none (which means 2008-10-17 semantics).
	Version    string
	ID         string
	Statements []Statement

	compiled *compiledPolicy // set by Parse
}

// Statement is one element of a policy's Statement list. Exactly one of
// Action/NotAction and one of Resource/NotResource is non-empty in a parsed
// policy. A single string in the document becomes a one-element slice.
type Statement struct {
	Sid         string
	Effect      string // "Allow" or "Deny"
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Condition   []Condition // in document order
	// Principal and NotPrincipal are a trust policy's (ParseTrust): principal type ("AWS",
	// "Service") to values; "Principal": "*" is {"AWS": ["*"]}. Identity policies have
	// neither, and Evaluate never lets a statement that has one allow anything.
	Principal    map[string][]string
	NotPrincipal map[string][]string
}

// Policy size quotas, in characters excluding white space
// (IAM and AWS STS quotas).
const (
	ManagedPolicyMaxSize       = 6144  // each managed policy
	UserInlinePoliciesMaxSize  = 2048  // all inline policies of a user together
	GroupInlinePoliciesMaxSize = 5120  // all inline policies of a group together
	RoleInlinePoliciesMaxSize  = 10240 // all inline policies of a role together
)

// Entity kinds for CheckInlineSize.
const (
	EntityUser  = "user"
	EntityGroup = "group"
	EntityRole  = "role"
)

// Parse parses and validates an identity-based policy document as IAM does
// for an inline policy (PutUserPolicy, PutGroupPolicy, PutRolePolicy): both
// policy language versions are accepted and a missing Version means
// 2008-10-17. Errors are *MalformedError. Parse does not check sizes; see
// ParseManaged and CheckInlineSize.
func Parse(doc string) (*Policy, error) {
	return parse(doc, modeIdentity)
}

// parseMode is the kind of document parse checks.
type parseMode int

const (
	modeIdentity parseMode = iota // an inline identity-based policy
	modeManaged                   // a managed policy: Version 2012-10-17 required
	modeTrust                     // a role trust policy: Principal, no Resource
)

// ParseManaged parses and validates a managed policy document as IAM does on
// CreatePolicy and CreatePolicyVersion: the document must not exceed
// ManagedPolicyMaxSize non-whitespace characters (*LimitExceededError) and
// must declare Version 2012-10-17 (*MalformedError "Policy document must be
// version 2012-10-17 or greater.").
func ParseManaged(doc string) (*Policy, error) {
	if n := Size(doc); n > ManagedPolicyMaxSize {
		return nil, &LimitExceededError{
			Reason: fmt.Sprintf(reasonManagedSizeLimit, ManagedPolicyMaxSize),
			Size:   n, Limit: ManagedPolicyMaxSize,
		}
	}
	return parse(doc, modeManaged)
}

// Size returns the size IAM charges a policy document against its quotas:
// the number of characters that are not white space.
func Size(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// InlinePoliciesMaxSize returns the aggregate inline-policy quota of an
// entity kind (EntityUser, EntityGroup, EntityRole), or 0 for an unknown
// kind.
func InlinePoliciesMaxSize(entityKind string) int {
	switch entityKind {
	case EntityUser:
		return UserInlinePoliciesMaxSize
	case EntityGroup:
		return GroupInlinePoliciesMaxSize
	case EntityRole:
		return RoleInlinePoliciesMaxSize
	}
	return 0
}

// CheckInlineSize checks the inline policy documents an entity would have
// (all of them, the new or replaced one included) against the aggregate
// quota of its kind. It returns a *LimitExceededError worded as IAM's
// PutUserPolicy/PutGroupPolicy/PutRolePolicy error, or nil.
func CheckInlineSize(entityKind, entityName string, docs ...string) error {
	limit := InlinePoliciesMaxSize(entityKind)
	if limit == 0 {
		return fmt.Errorf("policy: unknown entity kind %q", entityKind)
	}
	total := 0
	for _, d := range docs {
		total += Size(d)
	}
	if total > limit {
		return &LimitExceededError{
			Reason: fmt.Sprintf(reasonInlineSizeLimit, limit, entityKind, entityName),
			Size:   total, Limit: limit,
		}
	}
	return nil
}

type rawStatement struct {
	st                          Statement
	hasAction, hasNotAction     bool
	hasResource, hasNotResource bool
	hasPrincipal                bool // Principal or NotPrincipal
}

func parse(doc string, mode parseMode) (*Policy, error) {
	// "Policy documents can contain only the following Unicode characters:
	// horizontal tab (U+0009), linefeed (U+000A), carriage return (U+000D),
	// and characters in the range U+0020 to U+00FF."
	for i, r := range doc {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r > 0xFF {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(doc[i:]); n == 1 {
					return nil, malformed(ReasonSyntax, "invalid UTF-8 at byte %d", i)
				}
			}
			return nil, malformed(ReasonSyntax, "character %U at byte %d is not allowed in a policy document", r, i)
		}
	}
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, malformed(ReasonSyntax, "%v", err)
	}
	if root.kind != jObject {
		return nil, malformed(ReasonSyntax, "the document is a JSON %s, not an object", root.kind)
	}
	p := &Policy{}
	var stmtVal *jvalue
	for _, m := range root.obj {
		switch m.key {
		case "Version":
			if m.val.kind != jString || (m.val.str != Version2012 && m.val.str != Version2008) {
				return nil, malformed(ReasonSyntax, "Version must be %q or %q", Version2012, Version2008)
			}
			p.Version = m.val.str
		case "Id":
			if m.val.kind != jString {
				return nil, malformed(ReasonSyntax, "Id must be a string")
			}
			p.ID = m.val.str
		case "Statement":
			stmtVal = m.val
		default:
			return nil, malformed(ReasonSyntax, "unknown field %s", quote(m.key))
		}
	}
	var items []*jvalue
	switch {
	case stmtVal == nil:
		return nil, malformed(ReasonSyntax, "missing required field Statement")
	case stmtVal.kind == jObject:
		items = []*jvalue{stmtVal}
	case stmtVal.kind == jArray && len(stmtVal.arr) > 0:
		items = stmtVal.arr
	default:
		return nil, malformed(ReasonSyntax, "Statement must be an object or a non-empty array of objects")
	}
	raws := make([]rawStatement, len(items))
	for i, it := range items {
		if err := parseStatement(it, i, &raws[i], mode == modeTrust); err != nil {
			return nil, err
		}
	}

	if mode == modeManaged && p.Version != Version2012 {
		return nil, malformed(ReasonVersion, "Version is %q", p.Version)
	}

	// The legacy parser: Effect is case-sensitive, Date condition values
	// must be dates, and resources must have the legacy shape.
	for i := range raws {
		st := &raws[i].st
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, malformed(ReasonLegacy, "statement %d: Effect %q must be spelled \"Allow\" or \"Deny\"", i, st.Effect)
		}
		for _, c := range st.Condition {
			if op, _ := parseOperator(c.Operator); op.isDate() {
				for _, v := range c.Values {
					if _, ok := parseDate(v); !ok {
						return nil, malformed(ReasonLegacy, "statement %d: %s value %q is not a date", i, c.Operator, v)
					}
				}
			}
		}
		for _, list := range [][]string{st.Resource, st.NotResource} {
			for _, r := range list {
				if resourceFormatError(r) == "" && !legacyResourceOK(r) {
					return nil, malformed(ReasonLegacy, "statement %d: resource %q", i, r)
				}
			}
		}
	}

	seen := map[string]bool{}
	for i := range raws {
		if sid := raws[i].st.Sid; sid != "" {
			if seen[sid] {
				return nil, malformed(ReasonDuplicateSid, "Sid %q is used twice", sid)
			}
			seen[sid] = true
		}
	}
	for i := range raws {
		for _, c := range raws[i].st.Sid {
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return nil, malformed(ReasonSidCharacters, "Sid %q", raws[i].st.Sid)
			}
		}
	}
	for i := range raws {
		if len(raws[i].st.Action) == 0 && len(raws[i].st.NotAction) == 0 {
			return nil, malformed(ReasonNoActions, "statement %d has no Action or NotAction", i)
		}
	}
	if mode == modeTrust {
		if err := checkTrust(raws); err != nil {
			return nil, err
		}
	}
	for i := range raws {
		if mode != modeTrust && len(raws[i].st.Resource) == 0 && len(raws[i].st.NotResource) == 0 {
			return nil, malformed(ReasonNoResources, "statement %d has no Resource or NotResource", i)
		}
	}
	for i := range raws {
		for _, list := range [][]string{raws[i].st.Resource, raws[i].st.NotResource} {
			for _, r := range list {
				if msg := resourceFormatError(r); msg != "" {
					return nil, malformed(msg, "statement %d", i)
				}
			}
		}
	}
	for i := range raws {
		for _, list := range [][]string{raws[i].st.Action, raws[i].st.NotAction} {
			for _, a := range list {
				if msg := actionFormatError(a); msg != "" {
					return nil, malformed(msg, "statement %d: action %q", i, a)
				}
			}
		}
	}

	p.Statements = make([]Statement, len(raws))
	for i := range raws {
		p.Statements[i] = raws[i].st
	}
	p.compiled = compilePolicy(p)
	return p, nil
}

func parseStatement(v *jvalue, idx int, out *rawStatement, trust bool) error {
	if v.kind != jObject {
		return malformed(ReasonSyntax, "statement %d is a JSON %s, not an object", idx, v.kind)
	}
	for _, m := range v.obj {
		if !trust && (m.key == "Principal" || m.key == "NotPrincipal") {
			return malformed(ReasonPrincipal, "statement %d has %s", idx, m.key)
		}
	}
	hasEffect := false
	st := &out.st
	for _, m := range v.obj {
		var ok bool
		switch m.key {
		case "Sid":
			st.Sid, ok = m.val.str, m.val.kind == jString
		case "Effect":
			st.Effect, ok = m.val.str, m.val.kind == jString
			hasEffect = true
			if ok && !strings.EqualFold(st.Effect, "Allow") && !strings.EqualFold(st.Effect, "Deny") {
				return malformed(ReasonSyntax, "statement %d: Effect must be \"Allow\" or \"Deny\", not %q", idx, st.Effect)
			}
		case "Action":
			st.Action, ok = stringList(m.val)
			out.hasAction = true
		case "NotAction":
			st.NotAction, ok = stringList(m.val)
			out.hasNotAction = true
		case "Resource":
			st.Resource, ok = stringList(m.val)
			out.hasResource = true
		case "NotResource":
			st.NotResource, ok = stringList(m.val)
			out.hasNotResource = true
		case "Condition":
			var err error
			if st.Condition, err = parseConditionBlock(m.val, idx); err != nil {
				return err
			}
			ok = true
		case "Principal", "NotPrincipal": // trust policies only: refused above otherwise
			if out.hasPrincipal {
				return malformed(ReasonSyntax, "statement %d contains both Principal and NotPrincipal", idx)
			}
			out.hasPrincipal = true
			pr, err := parsePrincipal(m.val, idx)
			if err != nil {
				return err
			}
			if m.key == "Principal" {
				st.Principal = pr
			} else {
				st.NotPrincipal = pr
			}
			ok = true
		default:
			return malformed(ReasonSyntax, "statement %d: unknown field %s", idx, quote(m.key))
		}
		if !ok {
			return malformed(ReasonSyntax, "statement %d: %s has the wrong type (%s)", idx, m.key, m.val.kind)
		}
	}
	switch {
	case !hasEffect:
		return malformed(ReasonSyntax, "statement %d: missing required field Effect", idx)
	case out.hasAction && out.hasNotAction:
		return malformed(ReasonSyntax, "statement %d contains both Action and NotAction", idx)
	case out.hasResource && out.hasNotResource:
		return malformed(ReasonSyntax, "statement %d contains both Resource and NotResource", idx)
	}
	return nil
}

// stringList accepts a string or an array of strings.
func stringList(v *jvalue) ([]string, bool) {
	switch v.kind {
	case jString:
		return []string{v.str}, true
	case jArray:
		out := make([]string, len(v.arr))
		for i, e := range v.arr {
			if e.kind != jString {
				return nil, false
			}
			out[i] = e.str
		}
		return out, true
	}
	return nil, false
}

func parseConditionBlock(v *jvalue, idx int) ([]Condition, error) {
	if v.kind != jObject {
		return nil, malformed(ReasonSyntax, "statement %d: Condition must be an object", idx)
	}
	var out []Condition
	for _, opm := range v.obj {
		if opm.val.kind != jObject {
			return nil, malformed(ReasonSyntax, "statement %d: condition operator %s must map to an object", idx, quote(opm.key))
		}
		if _, ok := parseOperator(opm.key); !ok {
			if len(opm.val.obj) == 0 {
				continue // IAM accepts an unknown operator with an empty body; it tests nothing
			}
			return nil, malformed(ReasonSyntax, "statement %d: unknown condition operator %s", idx, quote(opm.key))
		}
		for _, km := range opm.val.obj {
			c := Condition{Operator: opm.key, Key: km.key}
			switch km.val.kind {
			case jString, jNumber, jBool:
				c.Values = []string{km.val.str}
			case jArray:
				c.Values = make([]string, 0, len(km.val.arr))
				for _, e := range km.val.arr {
					switch e.kind {
					case jString, jNumber, jBool:
						c.Values = append(c.Values, e.str)
					default:
						return nil, malformed(ReasonSyntax, "statement %d: %s %s: a condition value cannot be a JSON %s", idx, opm.key, km.key, e.kind)
					}
				}
			default:
				return nil, malformed(ReasonSyntax, "statement %d: %s %s: a condition value cannot be a JSON %s", idx, opm.key, km.key, km.val.kind)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

var partitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true,
	"aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

// resourceFormatError returns the message IAM gives for a Resource or
// NotResource value it does not accept as an ARN, or "".
func resourceFormatError(r string) string {
	if r == "*" {
		return ""
	}
	_, rest, ok := strings.Cut(r, ":")
	if !ok {
		return fmt.Sprintf(reasonResourceFormat, r)
	}
	partition, rest, hasService := strings.Cut(rest, ":")
	if !partitions[partition] {
		f := strings.Split(rest, ":")
		field := func(i int) string {
			switch {
			case i == 3 && len(f) > 3:
				return strings.Join(f[3:], ":")
			case i < len(f) && (i > 0 || f[0] != "" || len(f) > 1):
				return f[i]
			}
			return "*"
		}
		full := "arn:" + partition + ":" + field(0) + ":" + field(1) + ":" + field(2) + ":" + field(3)
		return fmt.Sprintf(reasonPartition, partition, full)
	}
	if !hasService {
		return ReasonResourceVendor
	}
	service, rest, _ := strings.Cut(rest, ":")
	region, _, hasRegion := strings.Cut(rest, ":")
	if hasRegion || rest != "" {
		if region != "" {
			switch service {
			case "iam":
				return fmt.Sprintf(reasonIAMRegion, r)
			case "s3":
				return fmt.Sprintf(reasonS3Region, r)
			}
		}
	}
	return ""
}

// legacyResourceOK applies the legacy parser's shape rules to a resource
// that passed resourceFormatError: an empty service is refused, and so is an
// empty field in an ARN with fewer than six fields.
func legacyResourceOK(r string) bool {
	if r == "*" {
		return true
	}
	if strings.Count(r, ":") < 5 && strings.Contains(r, "::") {
		return false
	}
	f := strings.SplitN(r, ":", 4)
	return len(f) >= 3 && f[2] != ""
}

// actionFormatError returns the message IAM gives for an Action or NotAction
// value without a valid "vendor:" prefix, or "".
func actionFormatError(a string) string {
	if a == "*" {
		return ""
	}
	vendor, _, ok := strings.Cut(a, ":")
	switch {
	case !ok || vendor == "":
		return ReasonActionNoVendor
	case strings.Count(a, ":") > 1:
		return ReasonActionColons
	case strings.ContainsAny(vendor, "*?"):
		return ReasonVendorWildcard
	}
	for i := 0; i < len(vendor); i++ {
		c := vendor[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Sprintf(reasonVendorInvalid, vendor)
		}
	}
	return ""
}
