package policy

// IdentityKind names identity-based policies in a Verdict, as AWS's denial messages do.
const IdentityKind = "identity-based policy"

// BoundaryKind names a permissions boundary in a Verdict, as AWS's denial messages do.
const BoundaryKind = "permissions boundary"

// Bound caps what identity-based policies grant: a permissions boundary, or (for a role
// session) its session policies. It grants nothing itself. A Bound with no policies allows
// nothing: a boundary whose policy cannot be read caps everything away (fail closed).
type Bound struct {
	Kind     string // as AWS's denial messages name it: BoundaryKind, "session policy"
	Policies []*Policy
}

// Verdict is the decision on a request across identity-based policies and bounds.
type Verdict struct {
	Decision Decision
	// By names the policy type that decided a denial (IdentityKind or a Bound's Kind):
	// the first one holding an explicit deny, else the first one that does not allow.
	// "" when allowed.
	By       string
	Identity Result
	Bounds   []Result // parallel to the bounds given
}

// EvaluateBounded answers req as AWS's policy evaluation logic does for a principal in its
// own account: an explicit Deny in any identity-based policy or any bound wins; otherwise
// the request is allowed only when the identity-based policies allow it and every bound
// allows it too (the intersection). Without bounds it is Evaluate.
func EvaluateBounded(req Request, identity []*Policy, bounds []Bound) Verdict {
	v := Verdict{Identity: Evaluate(req, identity)}
	if len(bounds) > 0 {
		v.Bounds = make([]Result, len(bounds))
		for i, b := range bounds {
			v.Bounds[i] = Evaluate(req, b.Policies)
		}
	}
	kind := func(i int) string { return bounds[i].Kind }
	// An explicit deny anywhere wins.
	if v.Identity.Decision == ExplicitDeny {
		v.Decision, v.By = ExplicitDeny, IdentityKind
		return v
	}
	for i, r := range v.Bounds {
		if r.Decision == ExplicitDeny {
			v.Decision, v.By = ExplicitDeny, kind(i)
			return v
		}
	}
	// Otherwise every layer must allow.
	if v.Identity.Decision != Allow {
		v.Decision, v.By = ImplicitDeny, IdentityKind
		return v
	}
	for i, r := range v.Bounds {
		if r.Decision != Allow {
			v.Decision, v.By = ImplicitDeny, kind(i)
			return v
		}
	}
	v.Decision = Allow
	return v
}
