package iam

import (
	"context"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// runFunc runs one action and returns the value to encode as its Result element.
type runFunc func(*Service, context.Context, awsquery.Params) (any, error)

// resourcesFunc names the resources an action touches and fills the request's condition
// keys into keys.
type resourcesFunc func(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource

// iamAction is one IAM API action: how it runs and what it touches.
type iamAction struct {
	run       runFunc
	resources resourcesFunc
}

// iamActions is every IAM action Borealis serves, by its IAM action name.
var iamActions = map[string]iamAction{
	"CreateUser":   {(*Service).createUser, withRequestTags(onNewUser)},
	"GetUser":      {(*Service).getUser, onUser},
	"ListUsers":    {(*Service).listUsers, onAny},
	"DeleteUser":   {(*Service).deleteUser, onUser},
	"TagUser":      {(*Service).tagUser, withRequestTags(onUser)},
	"UntagUser":    {(*Service).untagUser, withTagKeys(onUser)},
	"ListUserTags": {(*Service).listUserTags, onUser},

	"CreateGroup":         {(*Service).createGroup, onNewGroup},
	"GetGroup":            {(*Service).getGroup, onGroup},
	"ListGroups":          {(*Service).listGroups, onAny},
	"DeleteGroup":         {(*Service).deleteGroup, onGroup},
	"AddUserToGroup":      {(*Service).addUserToGroup, onGroup},
	"RemoveUserFromGroup": {(*Service).removeUserFromGroup, onGroup},
	"ListGroupsForUser":   {(*Service).listGroupsForUser, onUser},

	"CreateAccessKey": {(*Service).createAccessKey, onUser},
	"ListAccessKeys":  {(*Service).listAccessKeys, onUser},
	"UpdateAccessKey": {(*Service).updateAccessKey, onUser},
	"DeleteAccessKey": {(*Service).deleteAccessKey, onUser},

	"CreateLoginProfile": {(*Service).createLoginProfile, onUser},
	"GetLoginProfile":    {(*Service).getLoginProfile, onUser},
	"UpdateLoginProfile": {(*Service).updateLoginProfile, onUser},
	"DeleteLoginProfile": {(*Service).deleteLoginProfile, onUser},

	"ChangePassword": {(*Service).changePassword, onCaller},

	"CreateVirtualMFADevice": {(*Service).createVirtualMFADevice, withRequestTags(onNewMFADevice)},
	"EnableMFADevice":        {(*Service).enableMFADevice, onUser},
	"ListMFADevices":         {(*Service).listMFADevices, onUser},
	"ListVirtualMFADevices":  {(*Service).listVirtualMFADevices, onAny},
	"DeactivateMFADevice":    {(*Service).deactivateMFADevice, onUser},
	"DeleteVirtualMFADevice": {(*Service).deleteVirtualMFADevice, onMFADevice},

	"CreateAccountAlias": {(*Service).createAccountAlias, onAny},
	"ListAccountAliases": {(*Service).listAccountAliases, onAny},
	"DeleteAccountAlias": {(*Service).deleteAccountAlias, onAny},

	"GetAccountPasswordPolicy":    {noParams((*Service).getPasswordPolicy), onAny},
	"UpdateAccountPasswordPolicy": {(*Service).updatePasswordPolicy, onAny},
	"DeleteAccountPasswordPolicy": {noParams((*Service).deletePasswordPolicy), onAny},

	"PutUserPolicy":     {forKind((*Service).putInlinePolicy, userKind), onUser},
	"PutGroupPolicy":    {forKind((*Service).putInlinePolicy, groupKind), onGroup},
	"GetUserPolicy":     {forKind((*Service).getInlinePolicy, userKind), onUser},
	"GetGroupPolicy":    {forKind((*Service).getInlinePolicy, groupKind), onGroup},
	"ListUserPolicies":  {forKind((*Service).listInlinePolicies, userKind), onUser},
	"ListGroupPolicies": {forKind((*Service).listInlinePolicies, groupKind), onGroup},
	"DeleteUserPolicy":  {forKind((*Service).deleteInlinePolicy, userKind), onUser},
	"DeleteGroupPolicy": {forKind((*Service).deleteInlinePolicy, groupKind), onGroup},

	"CreatePolicy":            {(*Service).createPolicy, withRequestTags(onNewPolicy)},
	"GetPolicy":               {(*Service).getPolicy, onPolicy},
	"ListPolicies":            {(*Service).listPolicies, onAny},
	"DeletePolicy":            {(*Service).deletePolicy, onPolicy},
	"CreatePolicyVersion":     {(*Service).createPolicyVersion, onPolicy},
	"GetPolicyVersion":        {(*Service).getPolicyVersion, onPolicy},
	"ListPolicyVersions":      {(*Service).listPolicyVersions, onPolicy},
	"DeletePolicyVersion":     {(*Service).deletePolicyVersion, onPolicy},
	"SetDefaultPolicyVersion": {(*Service).setDefaultPolicyVersion, onPolicy},

	"AttachUserPolicy":          {forKind((*Service).attachPolicy, userKind), withPolicyARN(onUser)},
	"AttachGroupPolicy":         {forKind((*Service).attachPolicy, groupKind), withPolicyARN(onGroup)},
	"DetachUserPolicy":          {forKind((*Service).detachPolicy, userKind), withPolicyARN(onUser)},
	"DetachGroupPolicy":         {forKind((*Service).detachPolicy, groupKind), withPolicyARN(onGroup)},
	"ListAttachedUserPolicies":  {forKind((*Service).listAttachedPolicies, userKind), onUser},
	"ListAttachedGroupPolicies": {forKind((*Service).listAttachedPolicies, groupKind), onGroup},

	"SimulatePrincipalPolicy": {(*Service).simulatePrincipalPolicy, onPolicySource},
}

// forKind adapts an action shared by users and groups.
func forKind(f func(*Service, context.Context, entityKind, awsquery.Params) (any, error), k entityKind) runFunc {
	return func(s *Service, ctx context.Context, p awsquery.Params) (any, error) { return f(s, ctx, k, p) }
}

// noParams adapts an action without parameters.
func noParams(f func(*Service, context.Context) (any, error)) runFunc {
	return func(s *Service, ctx context.Context, _ awsquery.Params) (any, error) { return f(s, ctx) }
}
