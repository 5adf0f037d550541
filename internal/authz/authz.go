// Package authz holds the shape of an authorization question, shared by the services that
// describe their requests and the IAM side that answers.
package authz

// Resource is one resource an action touches, with the condition keys that belong to it
// (its tags: aws:ResourceTag/*, rds:cluster-tag/*, ...). IAM must allow the action on
// every resource of a request.
type Resource struct {
	ARN  string
	Keys map[string][]string
	// Action is the IAM action to allow on this resource when it is not the request's own:
	// EC2 asks for ec2:CreateTags on a resource created with tags.
	Action string
}

// On returns a resource without keys of its own.
func On(arn string) Resource { return Resource{ARN: arn} }
