package policy

import "fmt"

// Reasons used in MalformedError.Reason. They are the texts IAM returns with
// the MalformedPolicyDocument error code; messages that name a value (an
// invalid resource, an action vendor...) are built at parse time.
const (
	ReasonSyntax           = "Syntax errors in policy."
	ReasonPrincipal        = "Policy document should not specify a principal."
	ReasonVersion          = "Policy document must be version 2012-10-17 or greater."
	ReasonLegacy           = "The policy failed legacy parsing"
	ReasonDuplicateSid     = "Statement IDs (SID) in a single policy must be unique."
	ReasonSidCharacters    = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	ReasonNoActions        = "Policy statement must contain actions."
	ReasonNoResources      = "Policy statement must contain resources."
	ReasonActionNoVendor   = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	ReasonActionColons     = "Actions/Condition can contain only one colon."
	ReasonVendorWildcard   = "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards"
	ReasonResourceVendor   = "Resource vendor must be fully qualified and cannot contain regexes."
	reasonResourceFormat   = "Resource %s must be in ARN format or \"*\"."
	reasonPartition        = "Partition \"%s\" is not valid for resource \"%s\"."
	reasonVendorInvalid    = "Vendor %s is not valid"
	reasonIAMRegion        = "IAM resource %s cannot contain region information."
	reasonS3Region         = "Resource %s can not contain region information."
	reasonManagedSizeLimit = "Cannot exceed quota for PolicySize: %d"
	reasonInlineSizeLimit  = "Maximum policy size of %d bytes exceeded for %s %s"
)

// MalformedError reports a policy document that IAM would reject with the
// MalformedPolicyDocument error code.
type MalformedError struct {
	// Reason is the message IAM returns, e.g. "Syntax errors in policy.".
	Reason string
	// Detail says more precisely what is wrong, for logs and for humans; IAM
	// does not return it. It may be empty.
	Detail string
}

func (e *MalformedError) Error() string { return e.Reason }

// LimitExceededError reports a policy document (or an entity's set of inline
// documents) larger than IAM's quota; IAM returns it with the LimitExceeded
// error code.
type LimitExceededError struct {
	Reason string
	// Size is the measured size in non-whitespace characters, Limit the quota.
	Size, Limit int
}

func (e *LimitExceededError) Error() string { return e.Reason }

func malformed(reason, detail string, args ...any) *MalformedError {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &MalformedError{Reason: reason, Detail: detail}
}
