package iam

import (
	"context"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// Authorization names the resource each IAM action touches and its condition keys, so that
// the API server's authorizer can match policies such as
// "Resource": "arn:aws:iam::*:user/${aws:username}". It decides nothing itself.
func (s *Service) Authorization(ctx context.Context, action string, p awsquery.Params) (resources []authz.Resource, keys map[string][]string) {
	keys = map[string][]string{}
	one := func(r authz.Resource) ([]authz.Resource, map[string][]string) { return []authz.Resource{r}, keys }
	acct := "arn:aws:iam::" + s.cfg.AccountID + ":"
	// user names the user a request is about: UserName, or else the caller.
	user := func() authz.Resource {
		n := p.String("UserName")
		if n == "" {
			c, _ := principal.From(ctx)
			if c.Type != principal.User {
				return authz.On(orStar(c.ARN))
			}
			n = c.UserName
		}
		if u, err := s.store.IAMUser(ctx, n); err == nil {
			r := authz.On(s.userARN(u))
			if len(u.Tags) > 0 {
				r.Keys = map[string][]string{}
				for _, t := range u.Tags {
					r.Keys["aws:ResourceTag/"+t.Key] = []string{t.Value}
				}
			}
			return r
		}
		return authz.On(acct + "user/" + n)
	}
	group := func() authz.Resource {
		n := p.String("GroupName")
		if g, err := s.store.IAMGroup(ctx, n); err == nil {
			return authz.On(s.groupARN(g))
		}
		return authz.On(acct + "group/" + n)
	}
	requestTags := func() {
		var ks []string
		for i := 1; ; i++ {
			prefix := "Tags.member." + strconv.Itoa(i) + "."
			if !p.Has(prefix + "Key") {
				break
			}
			k := p.String(prefix + "Key")
			keys["aws:RequestTag/"+k] = []string{p.String(prefix + "Value")}
			ks = append(ks, k)
		}
		if len(ks) > 0 {
			keys["aws:TagKeys"] = ks
		}
	}
	switch action {
	case "CreateUser":
		path := p.String("Path")
		if path == "" {
			path = "/"
		}
		requestTags()
		return one(authz.On(s.userARN(store.IAMUser{Path: path, Name: p.String("UserName")})))
	case "TagUser":
		requestTags()
		return one(user())
	case "UntagUser":
		if ks := p.List("TagKeys", "member"); len(ks) > 0 {
			keys["aws:TagKeys"] = ks
		}
		return one(user())
	case "AttachUserPolicy", "DetachUserPolicy":
		keys["iam:PolicyARN"] = []string{p.String("PolicyArn")}
		return one(user())
	case "GetUser", "DeleteUser", "ListUserTags", "ListGroupsForUser",
		"CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
		"CreateLoginProfile", "GetLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile",
		"PutUserPolicy", "GetUserPolicy", "ListUserPolicies", "DeleteUserPolicy", "ListAttachedUserPolicies":
		return one(user())
	case "AttachGroupPolicy", "DetachGroupPolicy":
		keys["iam:PolicyARN"] = []string{p.String("PolicyArn")}
		return one(group())
	case "CreateGroup":
		path := p.String("Path")
		if path == "" {
			path = "/"
		}
		return one(authz.On(s.groupARN(store.IAMGroup{Path: path, Name: p.String("GroupName")})))
	case "GetGroup", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup",
		"PutGroupPolicy", "GetGroupPolicy", "ListGroupPolicies", "DeleteGroupPolicy", "ListAttachedGroupPolicies":
		return one(group())
	case "CreatePolicy":
		path := p.String("Path")
		if path == "" {
			path = "/"
		}
		requestTags()
		return one(authz.On(acct + "policy" + path + p.String("PolicyName")))
	case "GetPolicy", "DeletePolicy", "GetPolicyVersion", "CreatePolicyVersion", "ListPolicyVersions",
		"DeletePolicyVersion", "SetDefaultPolicyVersion":
		return one(authz.On(orStar(p.String("PolicyArn"))))
	case "SimulatePrincipalPolicy":
		return one(authz.On(orStar(p.String("PolicySourceArn"))))
	}
	return one(authz.On("*"))
}

func orStar(s string) string {
	if strings.TrimSpace(s) == "" {
		return "*"
	}
	return s
}
