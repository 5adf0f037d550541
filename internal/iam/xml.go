package iam

import "time"

// The XML shapes below follow botocore's iam 2010-05-08 and sts 2011-06-15 models: member
// names, and lists as <member> elements. Only the members Borealis fills are listed.

// members is a list member: <Name><member>...</member>...</Name>, written even when empty.
type members[T any] struct {
	Items []T `xml:"member"`
}

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xmlUser struct {
	Path       string    `xml:"Path,omitempty"`
	UserName   string    `xml:"UserName,omitempty"`
	UserID     string    `xml:"UserId"`
	Arn        string    `xml:"Arn"`
	CreateDate time.Time `xml:"CreateDate"`
	// PermissionsBoundary and Tags are nil where not shown (ListUsers omits both, as on AWS).
	PermissionsBoundary *xmlBoundary     `xml:"PermissionsBoundary"`
	Tags                *members[xmlTag] `xml:"Tags"`
}

type xmlBoundary struct {
	Type string `xml:"PermissionsBoundaryType"`
	Arn  string `xml:"PermissionsBoundaryArn"`
}

type xmlGroup struct {
	Path       string    `xml:"Path"`
	GroupName  string    `xml:"GroupName"`
	GroupID    string    `xml:"GroupId"`
	Arn        string    `xml:"Arn"`
	CreateDate time.Time `xml:"CreateDate"`
}

type userResult struct {
	User xmlUser `xml:"User"`
}

type listUsersResult struct {
	Users       members[xmlUser] `xml:"Users"`
	IsTruncated bool             `xml:"IsTruncated"`
	Marker      string           `xml:"Marker,omitempty"`
}

type listTagsResult struct {
	Tags        members[xmlTag] `xml:"Tags"`
	IsTruncated bool            `xml:"IsTruncated"`
	Marker      string          `xml:"Marker,omitempty"`
}

type groupResult struct {
	Group xmlGroup `xml:"Group"`
}

type getGroupResult struct {
	Group       xmlGroup         `xml:"Group"`
	Users       members[xmlUser] `xml:"Users"`
	IsTruncated bool             `xml:"IsTruncated"`
	Marker      string           `xml:"Marker,omitempty"`
}

type listGroupsResult struct {
	Groups      members[xmlGroup] `xml:"Groups"`
	IsTruncated bool              `xml:"IsTruncated"`
	Marker      string            `xml:"Marker,omitempty"`
}

type xmlAccessKey struct {
	UserName        string    `xml:"UserName,omitempty"`
	AccessKeyID     string    `xml:"AccessKeyId"`
	Status          string    `xml:"Status"`
	SecretAccessKey string    `xml:"SecretAccessKey"`
	CreateDate      time.Time `xml:"CreateDate"`
}

type createAccessKeyResult struct {
	AccessKey xmlAccessKey `xml:"AccessKey"`
}

type xmlAccessKeyMetadata struct {
	UserName    string    `xml:"UserName,omitempty"`
	AccessKeyID string    `xml:"AccessKeyId"`
	Status      string    `xml:"Status"`
	CreateDate  time.Time `xml:"CreateDate"`
}

type listAccessKeysResult struct {
	AccessKeyMetadata members[xmlAccessKeyMetadata] `xml:"AccessKeyMetadata"`
	IsTruncated       bool                          `xml:"IsTruncated"`
	Marker            string                        `xml:"Marker,omitempty"`
}

type xmlLoginProfile struct {
	UserName              string    `xml:"UserName"`
	CreateDate            time.Time `xml:"CreateDate"`
	PasswordResetRequired bool      `xml:"PasswordResetRequired"`
}

type loginProfileResult struct {
	LoginProfile xmlLoginProfile `xml:"LoginProfile"`
}

type xmlPasswordPolicy struct {
	MinimumPasswordLength      int  `xml:"MinimumPasswordLength"`
	RequireSymbols             bool `xml:"RequireSymbols"`
	RequireNumbers             bool `xml:"RequireNumbers"`
	RequireUppercaseCharacters bool `xml:"RequireUppercaseCharacters"`
	RequireLowercaseCharacters bool `xml:"RequireLowercaseCharacters"`
	AllowUsersToChangePassword bool `xml:"AllowUsersToChangePassword"`
	ExpirePasswords            bool `xml:"ExpirePasswords"`
	MaxPasswordAge             int  `xml:"MaxPasswordAge,omitempty"`
	PasswordReusePrevention    int  `xml:"PasswordReusePrevention,omitempty"`
	HardExpiry                 bool `xml:"HardExpiry"`
}

type passwordPolicyResult struct {
	PasswordPolicy xmlPasswordPolicy `xml:"PasswordPolicy"`
}

type getUserPolicyResult struct {
	UserName       string `xml:"UserName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"` // URL-encoded, as IAM sends it
}

type getGroupPolicyResult struct {
	GroupName      string `xml:"GroupName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

type listPolicyNamesResult struct {
	PolicyNames members[string] `xml:"PolicyNames"`
	IsTruncated bool            `xml:"IsTruncated"`
	Marker      string          `xml:"Marker,omitempty"`
}

type xmlPolicy struct {
	PolicyName                    string           `xml:"PolicyName"`
	PolicyID                      string           `xml:"PolicyId"`
	Arn                           string           `xml:"Arn"`
	Path                          string           `xml:"Path"`
	DefaultVersionID              string           `xml:"DefaultVersionId"`
	AttachmentCount               int              `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int              `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool             `xml:"IsAttachable"`
	Description                   string           `xml:"Description,omitempty"`
	CreateDate                    time.Time        `xml:"CreateDate"`
	UpdateDate                    time.Time        `xml:"UpdateDate"`
	Tags                          *members[xmlTag] `xml:"Tags"`
}

type policyResult struct {
	Policy xmlPolicy `xml:"Policy"`
}

type listPoliciesResult struct {
	Policies    members[xmlPolicy] `xml:"Policies"`
	IsTruncated bool               `xml:"IsTruncated"`
	Marker      string             `xml:"Marker,omitempty"`
}

type xmlPolicyVersion struct {
	Document         string    `xml:"Document,omitempty"` // URL-encoded, as IAM sends it
	VersionID        string    `xml:"VersionId"`
	IsDefaultVersion bool      `xml:"IsDefaultVersion"`
	CreateDate       time.Time `xml:"CreateDate"`
}

type policyVersionResult struct {
	PolicyVersion xmlPolicyVersion `xml:"PolicyVersion"`
}

type listPolicyVersionsResult struct {
	Versions    members[xmlPolicyVersion] `xml:"Versions"`
	IsTruncated bool                      `xml:"IsTruncated"`
	Marker      string                    `xml:"Marker,omitempty"`
}

type xmlAttachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type listAttachedPoliciesResult struct {
	AttachedPolicies members[xmlAttachedPolicy] `xml:"AttachedPolicies"`
	IsTruncated      bool                       `xml:"IsTruncated"`
	Marker           string                     `xml:"Marker,omitempty"`
}

type xmlStatement struct {
	SourcePolicyID   string `xml:"SourcePolicyId"`
	SourcePolicyType string `xml:"SourcePolicyType"`
}

type xmlEvaluationResult struct {
	EvalActionName       string                `xml:"EvalActionName"`
	EvalResourceName     string                `xml:"EvalResourceName"`
	EvalDecision         string                `xml:"EvalDecision"`
	MatchedStatements    members[xmlStatement] `xml:"MatchedStatements"`
	MissingContextValues members[string]       `xml:"MissingContextValues"`
	// PermissionsBoundaryDecisionDetail is set when a boundary applies to the simulation.
	PermissionsBoundaryDecisionDetail *xmlBoundaryDetail `xml:"PermissionsBoundaryDecisionDetail"`
}

type xmlBoundaryDetail struct {
	AllowedByPermissionsBoundary bool `xml:"AllowedByPermissionsBoundary"`
}

type simulateResult struct {
	EvaluationResults members[xmlEvaluationResult] `xml:"EvaluationResults"`
	IsTruncated       bool                         `xml:"IsTruncated"`
	Marker            string                       `xml:"Marker,omitempty"`
}

type callerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

type listAccountAliasesResult struct {
	AccountAliases members[string] `xml:"AccountAliases"`
	IsTruncated    bool            `xml:"IsTruncated"`
	Marker         string          `xml:"Marker,omitempty"`
}

type xmlVirtualMFADevice struct {
	SerialNumber     string           `xml:"SerialNumber"`
	Base32StringSeed string           `xml:"Base32StringSeed,omitempty"` // a blob: base64 of the base32 seed
	User             *xmlUser         `xml:"User,omitempty"`
	EnableDate       *time.Time       `xml:"EnableDate,omitempty"`
	Tags             *members[xmlTag] `xml:"Tags"`
}

type createVirtualMFADeviceResult struct {
	VirtualMFADevice xmlVirtualMFADevice `xml:"VirtualMFADevice"`
}

type listVirtualMFADevicesResult struct {
	VirtualMFADevices members[xmlVirtualMFADevice] `xml:"VirtualMFADevices"`
	IsTruncated       bool                         `xml:"IsTruncated"`
	Marker            string                       `xml:"Marker,omitempty"`
}

type xmlMFADevice struct {
	UserName     string    `xml:"UserName"`
	SerialNumber string    `xml:"SerialNumber"`
	EnableDate   time.Time `xml:"EnableDate"`
}

type listMFADevicesResult struct {
	MFADevices  members[xmlMFADevice] `xml:"MFADevices"`
	IsTruncated bool                  `xml:"IsTruncated"`
	Marker      string                `xml:"Marker,omitempty"`
}
