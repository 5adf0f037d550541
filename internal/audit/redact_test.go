package audit

import "testing"

// Every member botocore marks sensitive in the RDS, IAM, EC2 and STS models is hidden, in
// the Query form a caller sends it (nested and list members included), even for an action
// Borealis refuses: a refused call is recorded with its parameters too.
func TestRedactHidesEveryMemberTheModelsMarkSensitive(t *testing.T) {
	for _, c := range []struct{ action, member string }{
		{"CopyDBClusterSnapshot", "PreSignedUrl"}, // a presigned request: replayable until it expires
		{"CreateDBCluster", "PreSignedUrl"},
		{"CopySnapshot", "PresignedUrl"},
		{"AssumeRoleWithSAML", "SAMLAssertion"},
		{"AssumeRoleWithWebIdentity", "WebIdentityToken"},
		{"RunInstances", "UserData"},
		{"RequestSpotInstances", "LaunchSpecification.UserData"},
		{"RequestSpotFleet", "SpotFleetRequestConfig.LaunchSpecifications.1.UserData"},
		{"ModifyInstanceAttribute", "UserData.Value"},
		{"ModifyInstanceAttribute", "Value"},
		{"ModifyVpnTunnelOptions", "TunnelOptions.PreSharedKey"},
		{"CreateVpnConnection", "Options.TunnelOptions.1.PreSharedKey"},
		{"CreateDelegateMacVolumeOwnershipTask", "MacCredentials"},
		{"BundleInstance", "Storage.S3.UploadPolicySignature"},
		{"ImportImage", "DiskContainer.1.Url"},
		{"ImportSnapshot", "DiskContainer.Url"},
		{"ImportVolume", "Image.ImportManifestUrl"},
		{"ModifyDBProxyTargetGroup", "ConnectionPoolConfig.InitQuery"},
		{"ModifyOptionGroup", "OptionsToInclude.member.1.OptionSettings.member.2.Value"},
		{"CreateSAMLProvider", "AddPrivateKey"},
		{"UploadServerCertificate", "PrivateKey"},
		{"CreateDBCluster", "MasterUserPassword"},
		{"CreateDBInstance", "TdeCredentialPassword"},
		{"CreateVerifiedAccessTrustProvider", "OidcOptions.ClientSecret"},
	} {
		got := Redact(map[string][]string{"Action": {c.action}, c.member: {"s3cr3t-value"}})
		if got[lowerFirst(c.member)] != Hidden {
			t.Errorf("%s %s: %v", c.action, c.member, got)
		}
	}
}

// A password policy's settings and the managed-password switches are what an auditor
// looks for ("who weakened the password policy?"): they are not secrets.
func TestRedactKeepsPasswordSettings(t *testing.T) {
	in := map[string][]string{"Action": {"UpdateAccountPasswordPolicy"},
		"MinimumPasswordLength": {"6"}, "MaxPasswordAge": {"0"}, "PasswordReusePrevention": {"1"},
		"AllowUsersToChangePassword": {"true"}, "PasswordResetRequired": {"false"},
		"ManageMasterUserPassword": {"true"}, "RotateMasterUserPassword": {"true"},
		"MasterUserSecretKmsKeyId": {"alias/x"}, "Tags.member.1.Value": {"v"}, "Description": {"d"}}
	got := Redact(in)
	for k, v := range in {
		if k != "Action" && got[lowerFirst(k)] != v[0] {
			t.Errorf("%s: %v", k, got[lowerFirst(k)])
		}
	}
}

// A caller cannot make its event name another resource than the one acted on by sending a
// second member that differs only in its first letter's case (which the service ignores
// and which the trail would write under the same name).
func TestRedactKeepsBothValuesOfMembersThatLowerToOneName(t *testing.T) {
	got := Redact(map[string][]string{"Action": {"DeleteDBCluster"}, "DBClusterIdentifier": {"real"}, "dBClusterIdentifier": {"decoy"}})
	v, _ := got["dBClusterIdentifier"].([]string)
	if len(v) != 2 || v[0] != "real" || v[1] != "decoy" {
		t.Fatalf("%#v", got["dBClusterIdentifier"])
	}
}
