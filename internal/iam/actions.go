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
	members   awsquery.Members
}

// iamActions is every IAM action Borealis serves, by its IAM action name.
var iamActions = map[string]iamAction{
	"CreateUser":   {(*Service).createUser, withRequestBoundary(withRequestTags(onNewUser)), carries("Path", "UserName", "Tags", "PermissionsBoundary")},
	"GetUser":      {(*Service).getUser, onUser, carries("UserName")},
	"ListUsers":    {(*Service).listUsers, onAny, carries("PathPrefix", "Marker", "MaxItems")},
	"DeleteUser":   {(*Service).deleteUser, onUser, carries("UserName")},
	"TagUser":      {forKind((*Service).tagEntity, userKind), withRequestTags(onUser), carries("UserName", "Tags")},
	"UntagUser":    {forKind((*Service).untagEntity, userKind), withTagKeys(onUser), carries("UserName", "TagKeys")},
	"ListUserTags": {forKind((*Service).listEntityTags, userKind), onUser, carries("UserName", "Marker", "MaxItems")},

	"PutUserPermissionsBoundary":    {forKind((*Service).putPermissionsBoundary, userKind), withRequestBoundary(onUser), carries("UserName", "PermissionsBoundary")},
	"DeleteUserPermissionsBoundary": {forKind((*Service).deletePermissionsBoundary, userKind), withBoundary(userKind, onUser), carries("UserName")},

	"CreateGroup":         {(*Service).createGroup, onNewGroup, carries("Path", "GroupName")},
	"GetGroup":            {(*Service).getGroup, onGroup, carries("GroupName", "Marker", "MaxItems")},
	"ListGroups":          {(*Service).listGroups, onAny, carries("PathPrefix", "Marker", "MaxItems")},
	"DeleteGroup":         {(*Service).deleteGroup, onGroup, carries("GroupName")},
	"AddUserToGroup":      {(*Service).addUserToGroup, onGroup, carries("GroupName", "UserName")},
	"RemoveUserFromGroup": {(*Service).removeUserFromGroup, onGroup, carries("GroupName", "UserName")},
	"ListGroupsForUser":   {(*Service).listGroupsForUser, onUser, carries("UserName", "Marker", "MaxItems")},

	"CreateAccessKey": {(*Service).createAccessKey, onUser, carries("UserName")},
	"ListAccessKeys":  {(*Service).listAccessKeys, onUser, carries("UserName", "Marker", "MaxItems")},
	"UpdateAccessKey": {(*Service).updateAccessKey, onUser, carries("UserName", "AccessKeyId", "Status")},
	"DeleteAccessKey": {(*Service).deleteAccessKey, onUser, carries("UserName", "AccessKeyId")},

	"CreateLoginProfile": {(*Service).createLoginProfile, onUser, carries("UserName", "Password", "PasswordResetRequired")},
	"GetLoginProfile":    {(*Service).getLoginProfile, onUser, carries("UserName")},
	"UpdateLoginProfile": {(*Service).updateLoginProfile, onUser, carries("UserName", "Password", "PasswordResetRequired")},
	"DeleteLoginProfile": {(*Service).deleteLoginProfile, onUser, carries("UserName")},

	"ChangePassword": {(*Service).changePassword, onCaller, carries("OldPassword", "NewPassword")},

	"CreateVirtualMFADevice": {(*Service).createVirtualMFADevice, withRequestTags(onNewMFADevice), carries("Path", "VirtualMFADeviceName", "Tags")},
	"EnableMFADevice":        {(*Service).enableMFADevice, onUser, carries("UserName", "SerialNumber", "AuthenticationCode1", "AuthenticationCode2")},
	"ListMFADevices":         {(*Service).listMFADevices, onUser, carries("UserName", "Marker", "MaxItems")},
	"ListVirtualMFADevices":  {(*Service).listVirtualMFADevices, onAny, carries("AssignmentStatus", "Marker", "MaxItems")},
	"DeactivateMFADevice":    {(*Service).deactivateMFADevice, onUser, carries("UserName", "SerialNumber")},
	"DeleteVirtualMFADevice": {(*Service).deleteVirtualMFADevice, onMFADevice, carries("SerialNumber")},

	"CreateAccountAlias": {(*Service).createAccountAlias, onAny, carries("AccountAlias")},
	"ListAccountAliases": {(*Service).listAccountAliases, onAny, carries("Marker", "MaxItems")},
	"DeleteAccountAlias": {(*Service).deleteAccountAlias, onAny, carries("AccountAlias")},

	"GetAccountPasswordPolicy":    {noParams((*Service).getPasswordPolicy), onAny, carries()},
	"UpdateAccountPasswordPolicy": {(*Service).updatePasswordPolicy, onAny, carries("MinimumPasswordLength", "RequireSymbols", "RequireNumbers", "RequireUppercaseCharacters", "RequireLowercaseCharacters", "AllowUsersToChangePassword", "MaxPasswordAge", "PasswordReusePrevention", "HardExpiry")},
	"DeleteAccountPasswordPolicy": {noParams((*Service).deletePasswordPolicy), onAny, carries()},

	"PutUserPolicy":     {forKind((*Service).putInlinePolicy, userKind), withBoundary(userKind, onUser), carries("UserName", "PolicyName", "PolicyDocument")},
	"PutGroupPolicy":    {forKind((*Service).putInlinePolicy, groupKind), onGroup, carries("GroupName", "PolicyName", "PolicyDocument")},
	"GetUserPolicy":     {forKind((*Service).getInlinePolicy, userKind), onUser, carries("UserName", "PolicyName")},
	"GetGroupPolicy":    {forKind((*Service).getInlinePolicy, groupKind), onGroup, carries("GroupName", "PolicyName")},
	"ListUserPolicies":  {forKind((*Service).listInlinePolicies, userKind), onUser, carries("UserName", "Marker", "MaxItems")},
	"ListGroupPolicies": {forKind((*Service).listInlinePolicies, groupKind), onGroup, carries("GroupName", "Marker", "MaxItems")},
	"DeleteUserPolicy":  {forKind((*Service).deleteInlinePolicy, userKind), withBoundary(userKind, onUser), carries("UserName", "PolicyName")},
	"DeleteGroupPolicy": {forKind((*Service).deleteInlinePolicy, groupKind), onGroup, carries("GroupName", "PolicyName")},

	"CreatePolicy":            {(*Service).createPolicy, withRequestTags(onNewPolicy), carries("PolicyName", "Path", "PolicyDocument", "Description", "Tags")},
	"GetPolicy":               {(*Service).getPolicy, onPolicy, carries("PolicyArn")},
	"ListPolicies":            {(*Service).listPolicies, onAny, carries("Scope", "OnlyAttached", "PathPrefix", "PolicyUsageFilter", "Marker", "MaxItems")},
	"DeletePolicy":            {(*Service).deletePolicy, onPolicy, carries("PolicyArn")},
	"CreatePolicyVersion":     {(*Service).createPolicyVersion, onPolicy, carries("PolicyArn", "PolicyDocument", "SetAsDefault")},
	"GetPolicyVersion":        {(*Service).getPolicyVersion, onPolicy, carries("PolicyArn", "VersionId")},
	"ListPolicyVersions":      {(*Service).listPolicyVersions, onPolicy, carries("PolicyArn", "Marker", "MaxItems")},
	"DeletePolicyVersion":     {(*Service).deletePolicyVersion, onPolicy, carries("PolicyArn", "VersionId")},
	"SetDefaultPolicyVersion": {(*Service).setDefaultPolicyVersion, onPolicy, carries("PolicyArn", "VersionId")},

	"AttachUserPolicy":          {forKind((*Service).attachPolicy, userKind), withBoundary(userKind, withPolicyARN(onUser)), carries("UserName", "PolicyArn")},
	"AttachGroupPolicy":         {forKind((*Service).attachPolicy, groupKind), withPolicyARN(onGroup), carries("GroupName", "PolicyArn")},
	"DetachUserPolicy":          {forKind((*Service).detachPolicy, userKind), withBoundary(userKind, withPolicyARN(onUser)), carries("UserName", "PolicyArn")},
	"DetachGroupPolicy":         {forKind((*Service).detachPolicy, groupKind), withPolicyARN(onGroup), carries("GroupName", "PolicyArn")},
	"ListAttachedUserPolicies":  {forKind((*Service).listAttachedPolicies, userKind), onUser, carries("UserName", "PathPrefix", "Marker", "MaxItems")},
	"ListAttachedGroupPolicies": {forKind((*Service).listAttachedPolicies, groupKind), onGroup, carries("GroupName", "PathPrefix", "Marker", "MaxItems")},

	"CreateRole":                    {(*Service).createRole, withRequestBoundary(withRequestTags(onNewRole)), carries("Path", "RoleName", "AssumeRolePolicyDocument", "Description", "MaxSessionDuration", "Tags", "PermissionsBoundary")},
	"GetRole":                       {(*Service).getRole, onRole, carries("RoleName")},
	"ListRoles":                     {(*Service).listRoles, onAny, carries("PathPrefix", "Marker", "MaxItems")},
	"UpdateRole":                    {(*Service).updateRole, onRole, carries("RoleName", "Description", "MaxSessionDuration")},
	"UpdateRoleDescription":         {(*Service).updateRoleDescription, onRole, carries("RoleName", "Description")},
	"UpdateAssumeRolePolicy":        {(*Service).updateAssumeRolePolicy, onRole, carries("RoleName", "PolicyDocument")},
	"DeleteRole":                    {(*Service).deleteRole, onRole, carries("RoleName")},
	"TagRole":                       {forKind((*Service).tagEntity, roleKind), withRequestTags(onRole), carries("RoleName", "Tags")},
	"UntagRole":                     {forKind((*Service).untagEntity, roleKind), withTagKeys(onRole), carries("RoleName", "TagKeys")},
	"ListRoleTags":                  {forKind((*Service).listEntityTags, roleKind), onRole, carries("RoleName", "Marker", "MaxItems")},
	"PutRolePolicy":                 {forKind((*Service).putInlinePolicy, roleKind), withBoundary(roleKind, onRole), carries("RoleName", "PolicyName", "PolicyDocument")},
	"GetRolePolicy":                 {forKind((*Service).getInlinePolicy, roleKind), onRole, carries("RoleName", "PolicyName")},
	"ListRolePolicies":              {forKind((*Service).listInlinePolicies, roleKind), onRole, carries("RoleName", "Marker", "MaxItems")},
	"DeleteRolePolicy":              {forKind((*Service).deleteInlinePolicy, roleKind), withBoundary(roleKind, onRole), carries("RoleName", "PolicyName")},
	"AttachRolePolicy":              {forKind((*Service).attachPolicy, roleKind), withBoundary(roleKind, withPolicyARN(onRole)), carries("RoleName", "PolicyArn")},
	"DetachRolePolicy":              {forKind((*Service).detachPolicy, roleKind), withBoundary(roleKind, withPolicyARN(onRole)), carries("RoleName", "PolicyArn")},
	"PutRolePermissionsBoundary":    {forKind((*Service).putPermissionsBoundary, roleKind), withRequestBoundary(onRole), carries("RoleName", "PermissionsBoundary")},
	"DeleteRolePermissionsBoundary": {forKind((*Service).deletePermissionsBoundary, roleKind), withBoundary(roleKind, onRole), carries("RoleName")},
	"ListAttachedRolePolicies":      {forKind((*Service).listAttachedPolicies, roleKind), onRole, carries("RoleName", "PathPrefix", "Marker", "MaxItems")},

	"SimulatePrincipalPolicy": {(*Service).simulatePrincipalPolicy, onPolicySource, carries("PolicySourceArn", "PolicyInputList", "ActionNames", "ResourceArns", "ContextEntries", "MaxItems", "Marker").With(awsquery.Members{
		"PermissionsBoundaryPolicyInputList": awsquery.Acted, "ResourcePolicy": only(identityPoliciesOnly),
		"ResourceOwner": only(identityPoliciesOnly), "CallerArn": only(identityPoliciesOnly),
		"ResourceHandlingOption": only(identityPoliciesOnly), "PolicyExclusionList": only(noExclusions)})},
}

// forKind adapts an action shared by users, groups and roles.
func forKind(f func(*Service, context.Context, entityKind, awsquery.Params) (any, error), k entityKind) runFunc {
	return func(s *Service, ctx context.Context, p awsquery.Params) (any, error) { return f(s, ctx, k, p) }
}

// noParams adapts an action without parameters.
func noParams(f func(*Service, context.Context) (any, error)) runFunc {
	return func(s *Service, ctx context.Context, _ awsquery.Params) (any, error) { return f(s, ctx) }
}
