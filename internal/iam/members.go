package iam

import (
	"slices"
	"sort"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// member says what Borealis does with one request member of an action (its name before
// the first dot: Tags for Tags.member.1.Key). One the action carries out has no values; one
// it does not lists the values it accepts, exactly what IAM does by default, and why others
// are refused. No values at all: refused whenever sent.
type member struct {
	only []string
	why  string
}

type memberSet map[string]member

// carries declares the members an action carries out.
func carries(names ...string) memberSet {
	m := memberSet{}
	for _, n := range names {
		m[n] = member{}
	}
	return m
}

// with declares one more member.
func (m memberSet) with(name string, mem member) memberSet {
	m[name] = mem
	return m
}

func only(why string, values ...string) member { return member{only: values, why: why} }

// envelope are the memberSet every query request carries.
var envelope = carries("Action", "Version")

// Why memberSet are refused, each said once.
const (
	noBoundaries         = "Permissions boundaries are not supported by Borealis."
	noExclusions         = "Borealis simulates every policy that applies: PolicyExclusionList is not supported."
	identityPoliciesOnly = "Borealis evaluates identity-based policies only: PermissionsBoundaryPolicyInputList, ResourcePolicy, ResourceOwner, CallerArn and ResourceHandlingOption are not supported."
)

// checkMembers refuses, with IAM's InvalidInput and before anything changes, a member the
// action does not carry out, unless it asks for what IAM does by default.
func checkMembers(p awsquery.Params, m memberSet) error {
	names := make([]string, 0, len(p.Values))
	for k := range p.Values {
		names = append(names, k)
	}
	sort.Strings(names) // the same request always gets the same answer
	for _, k := range names {
		name, _, _ := strings.Cut(k, ".")
		mem, ok := m[name]
		if !ok {
			mem, ok = envelope[name]
		}
		switch {
		case !ok:
			return invalidInput("The parameter %s is not recognized.", awsquery.Clip(name))
		case mem.why == "":
			continue
		case !slices.Contains(mem.only, p.Get(k)):
			return invalidInput("%s", mem.why)
		}
	}
	return nil
}
