package iam

import "github.com/borealis-db/borealis/internal/awsquery"

// carries declares the members an action carries out.
func carries(names ...string) awsquery.Members {
	m := awsquery.Members{}
	for _, n := range names {
		m[n] = awsquery.Acted
	}
	return m
}

var only = awsquery.OnlyDefault

// memberRules refuse, with IAM's InvalidInput and before anything changes, a member the
// action does not carry out, unless it asks for what IAM does by default.
var memberRules = awsquery.MemberRules{
	Envelope:   carries("Action", "Version"),
	Unknown:    func(_, name string) error { return invalidInput("The parameter %s is not recognized.", name) },
	NotDefault: func(why string) error { return invalidInput("%s", why) },
}

// Why members are refused, each said once.
const (
	noExclusions         = "Borealis simulates every policy that applies: PolicyExclusionList is not supported."
	identityPoliciesOnly = "Borealis evaluates identity-based policies and permissions boundaries only: ResourcePolicy, ResourceOwner, CallerArn and ResourceHandlingOption are not supported."
)
