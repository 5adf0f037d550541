package policy

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// Request is one authorization question.
type Request struct {
	Action   string // "rds:CreateDBCluster"; matched case-insensitively
	Resource string // an ARN, or "*" when the action has no resource
	// Context holds the request context: condition keys (matched
	// case-insensitively) and their values. The evaluator invents no keys;
	// the caller supplies aws:username, aws:SourceIp, aws:CurrentTime,
	// aws:PrincipalTag/..., and so on. A key with no values counts as
	// absent. BinaryEquals compares the raw bytes held in the string.
	Context map[string][]string
}

// Decision is the outcome of an evaluation. The zero value denies.
type Decision int

const (
	ImplicitDeny Decision = iota // no statement allows the request
	Allow                        // a statement allows it and none denies it
	ExplicitDeny                 // a Deny statement applies
)

// String returns the decision as IAM's policy simulator spells it.
func (d Decision) String() string {
	switch d {
	case Allow:
		return "allowed"
	case ExplicitDeny:
		return "explicitDeny"
	default:
		return "implicitDeny"
	}
}

// StatementRef identifies a statement: the index of its policy in the slice
// given to Evaluate, its index in that policy, and its Sid.
type StatementRef struct {
	PolicyIndex    int
	StatementIndex int
	Sid            string
}

// Result is the answer to a Request.
type Result struct {
	Decision Decision
	// PolicyIndex, StatementIndex and Sid identify the statement that
	// decided: the first applicable Deny for ExplicitDeny, the first
	// applicable Allow for Allow. Both indexes are -1 for ImplicitDeny.
	PolicyIndex    int
	StatementIndex int
	Sid            string
	// Matched lists every statement with the deciding effect that applies,
	// in order (SimulatePrincipalPolicy's MatchedStatements). Empty for
	// ImplicitDeny.
	Matched []StatementRef
}

// Evaluate answers req against a principal's identity-based policies with
// AWS's logic: an explicit Deny in any statement of any policy wins;
// otherwise an Allow; otherwise the request is implicitly denied. Nil
// entries are skipped; policies not built by Parse are compiled on the fly.
func Evaluate(req Request, policies []*Policy) Result {
	ctx := normalizeContext(req.Context)
	action := strings.ToLower(req.Action)
	var allows, denies []StatementRef
	for pi, p := range policies {
		if p == nil {
			continue
		}
		cp := p.compiled
		if cp == nil {
			cp = compilePolicy(p)
		}
		for si := range cp.stmts {
			st := &cp.stmts[si]
			t := st.applies(action, &req, ctx)
			if st.principal && t == tTrue {
				t = tUnknown
			}
			switch {
			case st.deny && t != tFalse: // an indeterminate Deny applies
				denies = appendRef(denies, StatementRef{pi, si, st.sid})
			case !st.deny && t == tTrue: // an indeterminate Allow does not
				allows = appendRef(allows, StatementRef{pi, si, st.sid})
			}
		}
	}
	var res Result
	switch {
	case len(denies) > 0:
		res = Result{Decision: ExplicitDeny, Matched: denies}
	case len(allows) > 0:
		res = Result{Decision: Allow, Matched: allows}
	default:
		return Result{Decision: ImplicitDeny, PolicyIndex: -1, StatementIndex: -1}
	}
	first := res.Matched[0]
	res.PolicyIndex, res.StatementIndex, res.Sid = first.PolicyIndex, first.StatementIndex, first.Sid
	return res
}

func appendRef(list []StatementRef, r StatementRef) []StatementRef {
	if list == nil {
		list = make([]StatementRef, 0, 8)
	}
	return append(list, r)
}

// normalizeContext returns the context with lower-case keys, merging keys
// that differ only in case (in sorted order, for determinism). A context
// whose keys are all lower case is used as is.
func normalizeContext(in map[string][]string) map[string][]string {
	clean := true
	for k := range in {
		if !isLower(k) {
			clean = false
			break
		}
	}
	if clean {
		return in
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string][]string, len(in))
	for _, k := range keys {
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], in[k]...)
	}
	return out
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			return false
		}
		if c >= utf8.RuneSelf {
			return strings.ToLower(s) == s
		}
	}
	return true
}

// --- compiled form

type compiledPolicy struct {
	stmts []compiledStatement
}

type compiledStatement struct {
	sid                   string
	deny                  bool // Effect "Deny" — or anything but "Allow" (fail closed)
	action, notAction     []pattern
	resource, notResource []pattern
	conds                 []compiledCondition
	// principal: the statement has a Principal or NotPrincipal, which only EvaluateTrust
	// judges; in Evaluate such a statement never allows (and, if a Deny, applies).
	principal bool
}

func compilePolicy(p *Policy) *compiledPolicy {
	vars := p.Version == Version2012
	cp := &compiledPolicy{stmts: make([]compiledStatement, len(p.Statements))}
	for i := range p.Statements {
		st := &p.Statements[i]
		cs := &cp.stmts[i]
		cs.sid = st.Sid
		cs.deny = st.Effect != "Allow"
		cs.principal = st.Principal != nil || st.NotPrincipal != nil
		cs.action = compileList(lowerAll(st.Action), false, true)
		cs.notAction = compileList(lowerAll(st.NotAction), false, true)
		cs.resource = compileList(st.Resource, vars, true)
		cs.notResource = compileList(st.NotResource, vars, true)
		cs.conds = make([]compiledCondition, len(st.Condition))
		for j, c := range st.Condition {
			cs.conds[j] = compileCondition(c, vars)
		}
	}
	return cp
}

func lowerAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}

func compileList(list []string, vars, wild bool) []pattern {
	if len(list) == 0 {
		return nil
	}
	out := make([]pattern, len(list))
	for i, s := range list {
		out[i] = compilePattern(s, vars, wild)
	}
	return out
}

// applies evaluates the statement's Action, Resource and Condition elements
// for the request, in that order, stopping at the first false one. action
// is the request's action in lower case.
func (s *compiledStatement) applies(action string, req *Request, ctx map[string][]string) tri {
	t := matchElement(s.action, s.notAction, func(p *pattern) bool {
		return p.isMatchAll() || matchTokens(p.toks, action)
	})
	if t == tFalse {
		return tFalse
	}
	t = and(t, matchElement(s.resource, s.notResource, func(p *pattern) bool {
		if p.isMatchAll() {
			return true
		}
		var buf [16]tok
		toks, ok := p.tokens(ctx, buf[:0])
		return ok && matchTokens(toks, req.Resource) // a variable with no value matches no resource
	}))
	if t == tFalse {
		return tFalse
	}
	for i := range s.conds {
		if t = and(t, s.conds[i].eval(ctx)); t == tFalse {
			return tFalse
		}
	}
	return t
}

// matchElement evaluates an X / NotX pair: X applies when any pattern
// matches, NotX when none does. A pair with both or neither set (possible
// only in a hand-built Statement) is indeterminate unless both agree.
func matchElement(pos, neg []pattern, match func(*pattern) bool) tri {
	anyMatch := func(list []pattern) bool {
		for i := range list {
			if match(&list[i]) {
				return true
			}
		}
		return false
	}
	switch {
	case len(pos) > 0 && len(neg) == 0:
		return triOf(anyMatch(pos))
	case len(neg) > 0 && len(pos) == 0:
		return triOf(!anyMatch(neg))
	case len(pos) > 0 && len(neg) > 0:
		a, b := anyMatch(pos), !anyMatch(neg)
		if a == b {
			return triOf(a)
		}
	}
	return tUnknown
}

// ContextKeys lists the request-context keys the policy reads — condition
// keys and the keys of policy variables — as first written, without
// duplicates (compared case-insensitively). It serves
// GetContextKeysForCustomPolicy / GetContextKeysForPrincipalPolicy.
func (p *Policy) ContextKeys() []string {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if lk := strings.ToLower(k); !seen[lk] {
			seen[lk] = true
			out = append(out, k)
		}
	}
	vars := p.Version == Version2012
	for _, st := range p.Statements {
		if vars {
			for _, list := range [][]string{st.Resource, st.NotResource} {
				for _, r := range list {
					for _, k := range variableKeys(r) {
						add(k)
					}
				}
			}
		}
		for _, c := range st.Condition {
			add(c.Key)
			if op, ok := parseOperator(c.Operator); vars && ok && op.takesVariables() {
				for _, v := range c.Values {
					for _, k := range variableKeys(v) {
						add(k)
					}
				}
			}
		}
	}
	return out
}
