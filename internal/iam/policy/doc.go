// Package policy is the pure core of Borealis' IAM authorization: it parses
// and validates identity-based policy documents written in AWS's IAM policy
// language and evaluates authorization requests against them with AWS's
// evaluation logic, so that a policy pasted from real AWS gives the same
// answer here.
//
// The package has no storage and no I/O. Parse / ParseManaged validate a
// document the way IAM does on PutUserPolicy / CreatePolicy and return
// *MalformedError values whose Reason is the text IAM puts in a
// MalformedPolicyDocument error. Evaluate applies the identity-policy part of
// AWS's evaluation order: an explicit Deny in any statement wins, otherwise
// an Allow, otherwise the request is implicitly denied.
//
// Evaluation fails closed. Anything the evaluator cannot interpret — an
// operator it does not know, a condition value it cannot parse (a CIDR, a
// date, a number...), a statement built by hand with an invalid shape —
// makes the affected condition "indeterminate". An indeterminate Allow
// statement does not apply; an indeterminate Deny statement does. Conditions
// are combined with three-valued (Kleene) logic, so a condition that is known
// to be false still rules a statement out.
//
// Policies returned by Parse carry a compiled form; treat them as read-only.
package policy
