package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// Trust policies: the resource-based policy of an IAM role, saying who may assume it. Their
// statements have a Principal (or NotPrincipal) and no Resource, and their actions are STS's
// AssumeRole family only.
//
// Principals this package understands, in the "AWS" form: "*" (anyone), an account id or
// arn:aws:iam::ACCOUNT:root (the account: delegation to its identity policies), and user,
// role and assumed-role session ARNs (that entity directly). "Service" principals parse but
// never match: no AWS service runs here to assume a role. "Federated" and "CanonicalUser"
// principals are refused as invalid: Borealis has no identity providers.

const (
	reasonTrustResource = "Has prohibited field Resource"
	reasonTrustNoPrinc  = "Missing required field Principal"
	// ReasonTrustActions is IAM's answer to a trust policy granting anything but STS's
	// AssumeRole family.
	ReasonTrustActions = "AssumeRole policy may only specify STS AssumeRole actions."
)

// Principal types.
const (
	PrincipalAWS     = "AWS"
	PrincipalService = "Service"
)

// trustActions are the actions a trust policy may grant (lower case).
var trustActions = []string{
	"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
	"sts:tagsession", "sts:setsourceidentity", "sts:setcontext",
}

var (
	accountIDPattern    = regexp.MustCompile(`^\d{12}$`)
	rootARNPattern      = regexp.MustCompile(`^arn:aws:iam::(\d{12}):root$`)
	entityARNPattern    = regexp.MustCompile(`^arn:aws:iam::(\d{12}):(user|role)(/|/[\x21-\x7E]*/)[\w+=,.@-]{1,128}$`)
	sessionARNPattern   = regexp.MustCompile(`^arn:aws:sts::(\d{12}):assumed-role/[\w+=,.@-]{1,64}/[\w+=,.@-]{2,64}$`)
	servicePrincipalPat = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$`)
)

// InvalidPrincipal is IAM's MalformedPolicyDocument for a principal it does not accept (a
// malformed one, or a user or role that does not exist).
func InvalidPrincipal(kind, value string) *MalformedError {
	return &MalformedError{Reason: fmt.Sprintf("Invalid principal in policy: %q:%q", kind, value)}
}

// ParseTrust parses and validates a role trust policy (CreateRole's and
// UpdateAssumeRolePolicy's AssumeRolePolicyDocument) as IAM does. It cannot know which users
// and roles exist: the caller checks the ARNs that AWSPrincipals lists.
func ParseTrust(doc string) (*Policy, error) {
	return parse(doc, modeTrust)
}

// AWSPrincipals lists the "AWS" principal values of a trust policy, Principal and
// NotPrincipal alike, in document order.
func (p *Policy) AWSPrincipals() []string {
	var out []string
	for _, st := range p.Statements {
		out = append(out, st.Principal[PrincipalAWS]...)
		out = append(out, st.NotPrincipal[PrincipalAWS]...)
	}
	return out
}

func parsePrincipal(v *jvalue, idx int) (map[string][]string, error) {
	if v.kind == jString {
		if v.str != "*" {
			return nil, malformed(ReasonSyntax, "statement %d: Principal must be \"*\" or an object", idx)
		}
		return map[string][]string{PrincipalAWS: {"*"}}, nil
	}
	if v.kind != jObject || len(v.obj) == 0 {
		return nil, malformed(ReasonSyntax, "statement %d: Principal must be \"*\" or an object", idx)
	}
	out := map[string][]string{}
	for _, m := range v.obj {
		values, ok := stringList(m.val)
		if !ok || len(values) == 0 {
			return nil, malformed(ReasonSyntax, "statement %d: Principal %s must be a string or a list of strings", idx, quote(m.key))
		}
		for _, val := range values {
			switch m.key {
			case PrincipalAWS:
				if !validAWSPrincipal(val) {
					return nil, InvalidPrincipal(m.key, val)
				}
			case PrincipalService:
				if !servicePrincipalPat.MatchString(val) {
					return nil, InvalidPrincipal(m.key, val)
				}
			case "Federated", "CanonicalUser":
				return nil, InvalidPrincipal(m.key, val)
			default:
				return nil, malformed(ReasonSyntax, "statement %d: unknown principal type %s", idx, quote(m.key))
			}
		}
		out[m.key] = append(out[m.key], values...)
	}
	return out, nil
}

func validAWSPrincipal(v string) bool {
	return v == "*" || accountIDPattern.MatchString(v) || rootARNPattern.MatchString(v) ||
		entityARNPattern.MatchString(v) || sessionARNPattern.MatchString(v)
}

func checkTrust(raws []rawStatement) error {
	for i := range raws {
		r := &raws[i]
		switch {
		case r.hasResource || r.hasNotResource:
			return malformed(reasonTrustResource, "statement %d", i)
		case !r.hasPrincipal:
			return malformed(reasonTrustNoPrinc, "statement %d", i)
		case len(r.st.NotAction) > 0:
			return malformed(ReasonTrustActions, "statement %d has NotAction", i)
		}
		for _, a := range r.st.Action {
			if !isTrustAction(a) {
				return malformed(ReasonTrustActions, "statement %d: action %q", i, a)
			}
		}
	}
	return nil
}

// isTrustAction: an sts: action (wildcards allowed) that names only AssumeRole-family
// actions, and at least one.
func isTrustAction(a string) bool {
	a = strings.ToLower(a)
	if !strings.HasPrefix(a, "sts:") {
		return false
	}
	p := compilePattern(a, false, true)
	for _, t := range trustActions {
		if matchTokens(p.toks, t) {
			return true
		}
	}
	return false
}

// Caller is who asks to assume a role, as a trust policy's Principal element sees it.
type Caller struct {
	Account string
	// ARNs are the caller's own ARNs, which a Principal may name directly: a user's ARN, or a
	// role session's ARN. An ARN the trust policy named for an entity since deleted and made
	// again must be left out by the caller.
	ARNs []string
	// RoleARN is a role session's role, which a Principal may name too; left out as ARNs are.
	RoleARN string
}

// TrustResult is the answer of a trust policy.
type TrustResult struct {
	Decision Decision
	// Direct is set when an allowing statement names the caller itself (or "*") rather than
	// its account: then, in the same account, the caller's identity policies need not allow
	// the action too (an explicit deny in them still refuses).
	Direct bool
	// ViaRole is set when the caller is named directly only through its role's ARN: as AWS
	// has it, a resource-based policy naming a role (not the session) leaves the session's
	// own limits (its session policies) to allow the action too.
	ViaRole bool
}

// EvaluateTrust answers req (Resource is ignored: the role is the resource) against a trust
// policy for caller. An explicit Deny wins; a statement whose principal cannot be judged
// (a hand-built one with neither Principal nor NotPrincipal) denies if it is a Deny and never
// allows. A nil policy allows nothing.
func EvaluateTrust(req Request, p *Policy, c Caller) TrustResult {
	if p == nil {
		return TrustResult{}
	}
	ctx := normalizeContext(req.Context)
	action := strings.ToLower(req.Action)
	cp := p.compiled
	if cp == nil {
		cp = compilePolicy(p)
	}
	var res TrustResult
	viaSession := false // some allowing statement names the caller, not (only) its role
	for si := range cp.stmts {
		cs := &cp.stmts[si]
		st := &p.Statements[si]
		pm, direct, viaRole := principalMatch(st, c)
		t := and(pm, matchElement(cs.action, cs.notAction, func(pt *pattern) bool {
			return pt.isMatchAll() || matchTokens(pt.toks, action)
		}))
		for i := range cs.conds {
			if t == tFalse {
				break
			}
			t = and(t, cs.conds[i].eval(ctx))
		}
		switch {
		case cs.deny && t != tFalse:
			return TrustResult{Decision: ExplicitDeny}
		case !cs.deny && t == tTrue:
			res.Decision = Allow
			res.Direct = res.Direct || direct || viaRole
			viaSession = viaSession || direct
		}
	}
	res.ViaRole = res.Direct && !viaSession
	return res
}

// principalMatch says whether a statement's Principal or NotPrincipal takes in the caller,
// and whether by naming it directly, or its role.
func principalMatch(st *Statement, c Caller) (t tri, direct, viaRole bool) {
	switch {
	case st.Principal != nil && st.NotPrincipal == nil:
		m, direct, viaRole := anyPrincipal(st.Principal, c)
		return triOf(m), direct, viaRole
	case st.NotPrincipal != nil && st.Principal == nil:
		m, _, _ := anyPrincipal(st.NotPrincipal, c)
		return triOf(!m), false, false
	}
	return tUnknown, false, false
}

func anyPrincipal(pr map[string][]string, c Caller) (match, direct, viaRole bool) {
	for _, v := range pr[PrincipalAWS] { // other types never match
		switch {
		case v == "*":
			match, direct = true, true
		case v == c.Account && c.Account != "":
			match = true
		case rootARNPattern.MatchString(v):
			if rootARNPattern.FindStringSubmatch(v)[1] == c.Account {
				match = true
			}
		case c.RoleARN != "" && v == c.RoleARN:
			match, viaRole = true, true
		default:
			for _, a := range c.ARNs {
				if a != "" && a == v {
					match, direct = true, true
				}
			}
		}
	}
	return match, direct, viaRole
}
