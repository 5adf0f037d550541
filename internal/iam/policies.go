package iam

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

// urlEncode encodes a policy document as IAM returns it (RFC 3986, spaces as %20): the AWS
// CLI and botocore decode it; SDK users call url.QueryUnescape.
func urlEncode(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// --- inline policies

func (s *Service) putInlinePolicy(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	ownerID, ownerName, err := s.owner(ctx, kind, p)
	if err != nil {
		return nil, err
	}
	policyName, err := nameParam(p, "PolicyName", 128)
	if err != nil {
		return nil, err
	}
	doc, err := document(p)
	if err != nil {
		return nil, err
	}
	if _, err := policy.Parse(doc); err != nil {
		return nil, policyError(err)
	}
	err = s.store.PutInlinePolicy(ctx, store.InlinePolicy{OwnerID: ownerID, Name: policyName, Document: doc}, func(others []store.InlinePolicy) error {
		docs := []string{doc}
		for _, o := range others {
			docs = append(docs, o.Document)
		}
		return policyError(policy.CheckInlineSize(kind.String(), ownerName, docs...))
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, kind.notFound(ownerName)
	}
	return nil, err
}

func (s *Service) getInlinePolicy(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	ownerID, ownerName, err := s.owner(ctx, kind, p)
	if err != nil {
		return nil, err
	}
	policyName, err := nameParam(p, "PolicyName", 128)
	if err != nil {
		return nil, err
	}
	ip, err := s.store.InlinePolicy(ctx, ownerID, policyName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("The %s policy with name %s cannot be found.", kind, policyName)
	}
	if err != nil {
		return nil, err
	}
	if kind == roleKind {
		return getRolePolicyResult{RoleName: ownerName, PolicyName: ip.Name, PolicyDocument: urlEncode(ip.Document)}, nil
	}
	if kind == groupKind {
		return getGroupPolicyResult{GroupName: ownerName, PolicyName: ip.Name, PolicyDocument: urlEncode(ip.Document)}, nil
	}
	return getUserPolicyResult{UserName: ownerName, PolicyName: ip.Name, PolicyDocument: urlEncode(ip.Document)}, nil
}

func (s *Service) listInlinePolicies(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	ownerID, _, err := s.owner(ctx, kind, p)
	if err != nil {
		return nil, err
	}
	all, err := s.store.InlinePolicies(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	items, next, more := paginate(all, func(ip store.InlinePolicy) string { return strings.ToLower(ip.Name) }, pg)
	r := listPolicyNamesResult{IsTruncated: more, Marker: next}
	for _, ip := range items {
		r.PolicyNames.Items = append(r.PolicyNames.Items, ip.Name)
	}
	return r, nil
}

func (s *Service) deleteInlinePolicy(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	ownerID, _, err := s.owner(ctx, kind, p)
	if err != nil {
		return nil, err
	}
	policyName, err := nameParam(p, "PolicyName", 128)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteInlinePolicy(ctx, ownerID, policyName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("The %s policy with name %s cannot be found.", kind, policyName)
	}
	return nil, err
}

// --- managed policies

// managedRef is a managed policy found by ARN: an AWS managed one or a customer's.
type managedRef struct {
	aws   *awsPolicy
	local store.ManagedPolicy
}

func (r managedRef) arn() string {
	if r.aws != nil {
		return r.aws.arn()
	}
	return r.local.ARN
}

// defaultDocument is the document of the default version.
func (r managedRef) defaultDocument() string {
	if r.aws != nil {
		return r.aws.Document
	}
	v, _ := r.local.Version(r.local.DefaultVersion)
	return v.Document
}

// splitPolicyARN splits arn:aws:iam::ACCOUNT:policy/PATH/NAME.
func splitPolicyARN(arn string) (account, path, policyName string, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:aws:iam::")
	if !found {
		return "", "", "", false
	}
	account, res, found := strings.Cut(rest, ":")
	if !found || account == "" {
		return "", "", "", false
	}
	pathName, found := strings.CutPrefix(res, "policy/")
	if !found {
		return "", "", "", false
	}
	i := strings.LastIndex(pathName, "/")
	path, policyName = "/"+pathName[:i+1], pathName[i+1:]
	if policyName == "" || !namePattern.MatchString(policyName) || !policyPathPattern.MatchString(path) {
		return "", "", "", false
	}
	return account, path, policyName, true
}

// policyARNParam reads PolicyArn and checks its form.
func policyARNParam(p awsquery.Params) (string, error) {
	arn, err := required(p, "PolicyArn")
	if err != nil {
		return "", err
	}
	if len(arn) < 20 || len(arn) > 2048 {
		return "", validationError("policyArn", arn, "Member must have length between 20 and 2048")
	}
	if _, _, _, ok := splitPolicyARN(arn); !ok {
		return "", invalidInput("ARN %s is not valid.", awsquery.Clip(arn))
	}
	return arn, nil
}

// managed finds a managed policy; ok is false when there is none (in this account or AWS's).
func (s *Service) managed(ctx context.Context, arn string) (managedRef, bool, error) {
	account, path, policyName, ok := splitPolicyARN(arn)
	switch {
	case !ok:
		return managedRef{}, false, nil
	case account == "aws":
		a := s.aws[policyName]
		return managedRef{aws: a}, a != nil && path == "/", nil
	case account != s.cfg.AccountID:
		return managedRef{}, false, nil
	}
	mp, err := s.store.ManagedPolicy(ctx, arn)
	if errors.Is(err, store.ErrNotFound) {
		return managedRef{}, false, nil
	}
	return managedRef{local: mp}, err == nil, err
}

func policyNotFound(arn string) error { return noSuchEntity("Policy %s was not found.", arn) }

func policyNotAttachable(arn string) error {
	return noSuchEntity("Policy %s does not exist or is not attachable.", arn)
}

// customerPolicy finds a customer managed policy that action is to change; AWS managed
// policies belong to another account and cannot be changed.
func (s *Service) customerPolicy(ctx context.Context, action string, p awsquery.Params) (string, error) {
	arn, err := policyARNParam(p)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(arn, awsPolicyARNPrefix) {
		c, _ := caller(ctx)
		return "", accessDenied("User: %s is not authorized to perform: iam:%s on resource: policy %s", c.ARN, action, arn)
	}
	return arn, nil
}

// toPolicy shows a managed policy; u holds how many entities attach it and use it as their
// permissions boundary.
func (s *Service) toPolicy(r managedRef, u usage, detail bool) xmlPolicy {
	var x xmlPolicy
	if a := r.aws; a != nil {
		x = xmlPolicy{PolicyName: a.Name, PolicyID: a.ID, Arn: a.arn(), Path: "/", DefaultVersionID: a.Version,
			CreateDate: a.Created, UpdateDate: a.Updated}
		if detail {
			x.Description = a.Description
		}
	} else {
		m := r.local
		x = xmlPolicy{PolicyName: m.Name, PolicyID: m.PolicyID, Arn: m.ARN, Path: m.Path, DefaultVersionID: m.DefaultVersion,
			CreateDate: m.CreatedAt, UpdateDate: m.UpdatedAt}
		if detail {
			x.Description = m.Description
			x.Tags = tagMembers(m.Tags)
		}
	}
	x.AttachmentCount = u.attachments[x.Arn]
	x.PermissionsBoundaryUsageCount = u.boundaries[x.Arn]
	x.IsAttachable = true
	return x
}

func (s *Service) createPolicy(ctx context.Context, p awsquery.Params) (any, error) {
	policyName, err := nameParam(p, "PolicyName", 128)
	if err != nil {
		return nil, err
	}
	path := p.String("Path")
	if path == "" {
		path = "/"
	}
	if len(path) > 512 || !policyPathPattern.MatchString(path) {
		return nil, validationError("path", path, `Member must satisfy regular expression pattern: ((/[A-Za-z0-9\.,\+@=_-]+)*)/`)
	}
	desc := p.String("Description")
	if len([]rune(desc)) > 1000 {
		return nil, validationError("description", desc, "Member must have length less than or equal to 1000")
	}
	doc, err := document(p)
	if err != nil {
		return nil, err
	}
	ts, err := tags(p)
	if err != nil {
		return nil, err
	}
	if _, err := policy.ParseManaged(doc); err != nil {
		return nil, policyError(err)
	}
	now := s.now()
	mp := store.ManagedPolicy{
		ARN:      "arn:aws:iam::" + s.cfg.AccountID + ":policy" + path + policyName,
		PolicyID: newID("ANPA"), Name: policyName, Path: path, Description: desc,
		DefaultVersion: "v1", NextVersion: 2,
		Versions:  []store.PolicyVersion{{ID: "v1", Document: doc, CreatedAt: now}},
		Tags:      ts,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateManagedPolicy(ctx, mp); errors.Is(err, store.ErrExists) {
		return nil, alreadyExists("A policy called %s already exists. Duplicate names are not allowed.", policyName)
	} else if err != nil {
		return nil, err
	}
	return policyResult{Policy: s.toPolicy(managedRef{local: mp}, usage{}, true)}, nil
}

func (s *Service) getPolicy(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := policyARNParam(p)
	if err != nil {
		return nil, err
	}
	r, ok, err := s.managed(ctx, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, policyNotFound(arn)
	}
	u, err := s.usage(ctx)
	if err != nil {
		return nil, err
	}
	return policyResult{Policy: s.toPolicy(r, u, true)}, nil
}

func (s *Service) listPolicies(ctx context.Context, p awsquery.Params) (any, error) {
	scope := p.String("Scope")
	switch scope {
	case "":
		scope = "All"
	case "All", "AWS", "Local":
	default:
		return nil, validationError("scope", scope, "Member must satisfy enum value set: [All, AWS, Local]")
	}
	usageFilter := p.String("PolicyUsageFilter")
	switch usageFilter {
	case "", "PermissionsPolicy", "PermissionsBoundary":
	default:
		return nil, validationError("policyUsageFilter", usageFilter, "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]")
	}
	onlyAttached, err := optionalBool(p, "OnlyAttached")
	if err != nil {
		return nil, err
	}
	prefix, err := pathPrefix(p, policyPathPattern)
	if err != nil {
		return nil, err
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	u, err := s.usage(ctx)
	if err != nil {
		return nil, err
	}
	// AWS managed policies first, then the account's, each by name.
	type entry struct {
		key string
		x   xmlPolicy
	}
	var all []entry
	add := func(key string, r managedRef) {
		x := s.toPolicy(r, u, false)
		used := x.AttachmentCount > 0 || x.PermissionsBoundaryUsageCount > 0
		switch usageFilter {
		case "PermissionsPolicy":
			used = x.AttachmentCount > 0
		case "PermissionsBoundary":
			used = x.PermissionsBoundaryUsageCount > 0
		}
		if strings.HasPrefix(x.Path, prefix) && (!onlyAttached || used) {
			all = append(all, entry{key, x})
		}
	}
	if scope != "Local" {
		for _, a := range s.aws.sorted() {
			add("a/"+strings.ToLower(a.Name), managedRef{aws: a})
		}
	}
	if scope != "AWS" {
		local, err := s.store.ManagedPolicies(ctx)
		if err != nil {
			return nil, err
		}
		sort.Slice(local, func(i, j int) bool { return strings.ToLower(local[i].Name) < strings.ToLower(local[j].Name) })
		for _, m := range local {
			add("l/"+strings.ToLower(m.Name), managedRef{local: m})
		}
	}
	items, next, more := paginate(all, func(e entry) string { return e.key }, pg)
	r := listPoliciesResult{IsTruncated: more, Marker: next}
	for _, e := range items {
		r.Policies.Items = append(r.Policies.Items, e.x)
	}
	return r, nil
}

func (s *Service) deletePolicy(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := s.customerPolicy(ctx, "DeletePolicy", p)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteManagedPolicy(ctx, arn, func(mp store.ManagedPolicy, attachments int) error {
		if attachments > 0 {
			return deleteConflict("Cannot delete a policy attached to entities.")
		}
		if len(mp.Versions) > 1 {
			return deleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, policyNotFound(arn)
	}
	return nil, err
}

func versionIDParam(p awsquery.Params) (string, error) {
	v, err := required(p, "VersionId")
	if err != nil {
		return "", err
	}
	if !versionIDPattern.MatchString(v) {
		return "", validationError("versionId", v, `Member must satisfy regular expression pattern: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`)
	}
	return v, nil
}

func noSuchVersion(arn, v string) error {
	return noSuchEntity("Policy %s version %s does not exist or is not attachable.", arn, v)
}

func versionNumber(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(id, ".", 2)[0], "v"))
	return n
}

func (s *Service) createPolicyVersion(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := s.customerPolicy(ctx, "CreatePolicyVersion", p)
	if err != nil {
		return nil, err
	}
	doc, err := document(p)
	if err != nil {
		return nil, err
	}
	setDefault, err := optionalBool(p, "SetAsDefault")
	if err != nil {
		return nil, err
	}
	if _, err := policy.ParseManaged(doc); err != nil {
		return nil, policyError(err)
	}
	var v store.PolicyVersion
	_, err = s.store.UpdateManagedPolicy(ctx, arn, func(mp *store.ManagedPolicy) error {
		if len(mp.Versions) >= maxPolicyVersions {
			return limitExceeded("A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
		}
		v = store.PolicyVersion{ID: "v" + strconv.Itoa(mp.NextVersion), Document: doc, CreatedAt: s.now()}
		mp.NextVersion++
		mp.Versions = append(mp.Versions, v)
		mp.UpdatedAt = v.CreatedAt
		if setDefault {
			mp.DefaultVersion = v.ID
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, policyNotFound(arn)
	}
	if err != nil {
		return nil, err
	}
	return policyVersionResult{PolicyVersion: xmlPolicyVersion{VersionID: v.ID, IsDefaultVersion: setDefault, CreateDate: v.CreatedAt}}, nil
}

func (s *Service) getPolicyVersion(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := policyARNParam(p)
	if err != nil {
		return nil, err
	}
	vid, err := versionIDParam(p)
	if err != nil {
		return nil, err
	}
	r, ok, err := s.managed(ctx, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, noSuchVersion(arn, vid)
	}
	if a := r.aws; a != nil {
		if vid != a.Version {
			return nil, noSuchVersion(arn, vid)
		}
		return policyVersionResult{PolicyVersion: xmlPolicyVersion{Document: urlEncode(a.Document), VersionID: vid, IsDefaultVersion: true, CreateDate: a.Updated}}, nil
	}
	v, ok := r.local.Version(vid)
	if !ok {
		return nil, noSuchVersion(arn, vid)
	}
	return policyVersionResult{PolicyVersion: xmlPolicyVersion{Document: urlEncode(v.Document), VersionID: v.ID, IsDefaultVersion: v.ID == r.local.DefaultVersion, CreateDate: v.CreatedAt}}, nil
}

func (s *Service) listPolicyVersions(ctx context.Context, p awsquery.Params) (any, error) {
	arn, err := policyARNParam(p)
	if err != nil {
		return nil, err
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	r, ok, err := s.managed(ctx, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, policyNotFound(arn)
	}
	var versions []xmlPolicyVersion
	if a := r.aws; a != nil {
		versions = []xmlPolicyVersion{{VersionID: a.Version, IsDefaultVersion: true, CreateDate: a.Updated}}
	} else {
		for _, v := range r.local.Versions {
			versions = append(versions, xmlPolicyVersion{VersionID: v.ID, IsDefaultVersion: v.ID == r.local.DefaultVersion, CreateDate: v.CreatedAt})
		}
	}
	// Newest first, as IAM lists them.
	sort.Slice(versions, func(i, j int) bool {
		return versionNumber(versions[i].VersionID) > versionNumber(versions[j].VersionID)
	})
	items, next, more := paginateInOrder(versions, pg)
	res := listPolicyVersionsResult{IsTruncated: more, Marker: next}
	res.Versions.Items = items
	return res, nil
}

func (s *Service) deletePolicyVersion(ctx context.Context, p awsquery.Params) (any, error) {
	return nil, s.updatePolicyVersion(ctx, "DeletePolicyVersion", p, func(mp *store.ManagedPolicy, vid string) error {
		if vid == mp.DefaultVersion {
			return deleteConflict("Cannot delete the default version of a policy.")
		}
		kept := mp.Versions[:0]
		for _, v := range mp.Versions {
			if v.ID != vid {
				kept = append(kept, v)
			}
		}
		mp.Versions = kept
		return nil
	})
}

func (s *Service) setDefaultPolicyVersion(ctx context.Context, p awsquery.Params) (any, error) {
	return nil, s.updatePolicyVersion(ctx, "SetDefaultPolicyVersion", p, func(mp *store.ManagedPolicy, vid string) error {
		mp.DefaultVersion = vid
		return nil
	})
}

// updatePolicyVersion reads the customer managed policy and the version a request names
// (PolicyArn, VersionId) and changes the policy in one transaction: NoSuchEntity when either
// does not exist.
func (s *Service) updatePolicyVersion(ctx context.Context, action string, p awsquery.Params, fn func(mp *store.ManagedPolicy, vid string) error) error {
	arn, err := s.customerPolicy(ctx, action, p)
	if err != nil {
		return err
	}
	vid, err := versionIDParam(p)
	if err != nil {
		return err
	}
	_, err = s.store.UpdateManagedPolicy(ctx, arn, func(mp *store.ManagedPolicy) error {
		if _, ok := mp.Version(vid); !ok {
			return noSuchVersion(arn, vid)
		}
		return fn(mp, vid)
	})
	if errors.Is(err, store.ErrNotFound) {
		return policyNotFound(arn)
	}
	return err
}

// --- attachments

func (s *Service) attachPolicy(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	ownerID, _, err := s.owner(ctx, kind, p)
	if err != nil {
		return nil, err
	}
	arn, err := policyARNParam(p)
	if err != nil {
		return nil, err
	}
	r, ok, err := s.managed(ctx, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, policyNotAttachable(arn)
	}
	quota := map[entityKind]string{userKind: "PoliciesPerUser", groupKind: "PoliciesPerGroup", roleKind: "PoliciesPerRole"}[kind]
	err = s.store.AttachPolicy(ctx, ownerID, arn, r.aws == nil, func(attached []string) error {
		if len(attached) >= maxPoliciesPerEntity {
			return limitExceeded("Cannot exceed quota for %s: %d", quota, maxPoliciesPerEntity)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) { // the policy or the entity went meanwhile
		return nil, policyNotAttachable(arn)
	}
	return nil, err
}

func (s *Service) detachPolicy(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	ownerID, _, err := s.owner(ctx, kind, p)
	if err != nil {
		return nil, err
	}
	arn, err := policyARNParam(p)
	if err != nil {
		return nil, err
	}
	err = s.store.DetachPolicy(ctx, ownerID, arn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, policyNotFound(arn)
	}
	return nil, err
}

func (s *Service) listAttachedPolicies(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	ownerID, _, err := s.owner(ctx, kind, p)
	if err != nil {
		return nil, err
	}
	prefix, err := pathPrefix(p, policyPathPattern)
	if err != nil {
		return nil, err
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	arns, err := s.store.AttachedPolicies(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	var all []xmlAttachedPolicy
	for _, arn := range arns {
		_, path, policyName, ok := splitPolicyARN(arn)
		if ok && strings.HasPrefix(path, prefix) {
			all = append(all, xmlAttachedPolicy{PolicyName: policyName, PolicyArn: arn})
		}
	}
	sort.Slice(all, func(i, j int) bool { return attachedKey(all[i]) < attachedKey(all[j]) })
	items, next, more := paginate(all, attachedKey, pg)
	r := listAttachedPoliciesResult{IsTruncated: more, Marker: next}
	r.AttachedPolicies.Items = items
	return r, nil
}

func attachedKey(a xmlAttachedPolicy) string {
	return strings.ToLower(a.PolicyName) + "\x00" + a.PolicyArn
}

// usage is how many entities use each managed policy, by ARN.
type usage struct{ attachments, boundaries map[string]int }

func (s *Service) usage(ctx context.Context) (usage, error) {
	a, err := s.store.AttachmentCounts(ctx)
	if err != nil {
		return usage{}, err
	}
	b, err := s.store.BoundaryUsageCounts(ctx)
	return usage{a, b}, err
}
