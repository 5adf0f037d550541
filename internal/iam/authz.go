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
	a, ok := iamActions[action]
	if !ok {
		return onAny(s, ctx, p, keys), keys
	}
	return a.resources(s, ctx, p, keys), keys
}

func (s *Service) accountARN() string { return "arn:aws:iam::" + s.cfg.AccountID + ":" }

// onAny is resource "*": list and account-level actions.
func onAny(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On("*")}
}

// onUser is the user a request is about: UserName, or else the caller; with its tags as
// aws:ResourceTag/*.
func onUser(s *Service, ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	n := p.String("UserName")
	if n == "" {
		c, _ := principal.From(ctx)
		if c.Type != principal.User {
			return []authz.Resource{authz.On(orStar(c.ARN))}
		}
		n = c.UserName
	}
	u, err := s.store.IAMUser(ctx, n)
	if err != nil {
		return []authz.Resource{authz.On(s.accountARN() + "user/" + n)}
	}
	r := authz.On(s.userARN(u))
	r.Keys = resourceTags(u.Tags)
	return []authz.Resource{r}
}

// resourceTags are a user's or role's tags as the condition keys aws:ResourceTag/*; nil
// when it has none.
func resourceTags(ts []store.Tag) map[string][]string {
	if len(ts) == 0 {
		return nil
	}
	keys := map[string][]string{}
	for _, t := range ts {
		keys["aws:ResourceTag/"+t.Key] = []string{t.Value}
	}
	return keys
}

// onCaller is the calling user itself, whatever the request says (ChangePassword).
func onCaller(s *Service, ctx context.Context, _ awsquery.Params, keys map[string][]string) []authz.Resource {
	c, _ := principal.From(ctx)
	if c.Type != principal.User {
		return []authz.Resource{authz.On(orStar(c.ARN))}
	}
	return onUser(s, ctx, awsquery.Params{Values: map[string][]string{"UserName": {c.UserName}}}, keys)
}

// onNewMFADevice is the device CreateVirtualMFADevice would make.
func onNewMFADevice(s *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(s.mfaSerial(pathOrRoot(p), p.String("VirtualMFADeviceName")))}
}

// onMFADevice is the device named by SerialNumber (its ARN).
func onMFADevice(_ *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(orStar(p.String("SerialNumber")))}
}

func onGroup(s *Service, ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	n := p.String("GroupName")
	if g, err := s.store.IAMGroup(ctx, n); err == nil {
		return []authz.Resource{authz.On(s.groupARN(g))}
	}
	return []authz.Resource{authz.On(s.accountARN() + "group/" + n)}
}

func onNewUser(s *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(s.userARN(store.IAMUser{Path: pathOrRoot(p), Name: p.String("UserName")}))}
}

func onNewGroup(s *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(s.groupARN(store.IAMGroup{Path: pathOrRoot(p), Name: p.String("GroupName")}))}
}

func onNewPolicy(s *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(s.accountARN() + "policy" + pathOrRoot(p) + p.String("PolicyName"))}
}

func onPolicy(_ *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(orStar(p.String("PolicyArn")))}
}

func onPolicySource(_ *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(orStar(p.String("PolicySourceArn")))}
}

// withRequestTags adds the request's Tags as aws:RequestTag/* and aws:TagKeys.
func withRequestTags(f resourcesFunc) resourcesFunc {
	return func(s *Service, ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
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
		return f(s, ctx, p, keys)
	}
}

// withTagKeys adds the request's TagKeys as aws:TagKeys.
func withTagKeys(f resourcesFunc) resourcesFunc {
	return func(s *Service, ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
		if ks := p.List("TagKeys", "member"); len(ks) > 0 {
			keys["aws:TagKeys"] = ks
		}
		return f(s, ctx, p, keys)
	}
}

// withPolicyARN adds the request's PolicyArn as iam:PolicyARN.
func withPolicyARN(f resourcesFunc) resourcesFunc {
	return func(s *Service, ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
		keys["iam:PolicyARN"] = []string{p.String("PolicyArn")}
		return f(s, ctx, p, keys)
	}
}

func pathOrRoot(p awsquery.Params) string {
	if path := p.String("Path"); path != "" {
		return path
	}
	return "/"
}

func orStar(s string) string {
	if strings.TrimSpace(s) == "" {
		return "*"
	}
	return s
}
