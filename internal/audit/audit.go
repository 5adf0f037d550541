// Package audit is Borealis's audit trail: who did what, recorded so that it survives a
// crash and so that a later change to it can be detected.
//
// The contract, for every package that records into it:
//
//   - An Event is one record in CloudTrail's record format (the JSON that CloudTrail's
//     LookupEvents returns as CloudTrailEvent). The recorder fills what it knows; Record
//     fills EventVersion, EventID, EventTime (if zero) and EventCategory.
//   - (*Trail).Record returns nil only once the event is durable: written and fsync'd to
//     the trail's current segment (concurrent Records share one fsync). A caller that
//     acknowledges something to a client does so after Record returns, so that kill -9
//     right after the acknowledgement keeps the event. An error means the event may be
//     lost and the caller must not claim otherwise.
//   - Secrets never reach Record: the caller redacts them (see Redact for request
//     parameters). The trail is readable by every principal allowed cloudtrail:LookupEvents.
//   - Events are appended in one order; each carries its sequence number and the hash of
//     the one before (a SHA-256 chain). Verify reports the first event that was changed,
//     removed or reordered. Retention removes whole day segments from the old end, after
//     recording the cut (the hash of the last removed event) as an event of the chain.
//   - A recorder that can be driven by unauthenticated traffic (refused connections,
//     garbage requests) must bound what it records (a rate and counted events), so that a
//     flood cannot fill the disk; Limiter is one way.
//
// The file format is documented in docs/audit.md.
package audit

import (
	"encoding/json"
	"time"
)

// Event types, as CloudTrail names them.
const (
	TypeAPICall       = "AwsApiCall"
	TypeConsoleSignIn = "AwsConsoleSignIn"
	TypeServiceEvent  = "AwsServiceEvent"
)

// UserIdentity is CloudTrail's userIdentity element.
type UserIdentity struct {
	Type        string `json:"type"` // Root, IAMUser, AssumedRole, Unknown, AWSService
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	// InvokedBy names the service that acted, for AWSService identities.
	InvokedBy string `json:"invokedBy,omitempty"`
	// SessionContext is set for temporary credentials, as CloudTrail records them.
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext is a temporary credential's origin: the role it assumed (none for
// GetSessionToken) and when and how it was issued.
type SessionContext struct {
	SessionIssuer  *SessionIssuer    `json:"sessionIssuer,omitempty"`
	Attributes     SessionAttributes `json:"attributes"`
	SourceIdentity string            `json:"sourceIdentity,omitempty"`
}

// SessionIssuer is the role behind a role session.
type SessionIssuer struct {
	Type        string `json:"type"` // Role
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// SessionAttributes are CloudTrail's session attributes ("true"/"false" as strings, as there).
type SessionAttributes struct {
	CreationDate     time.Time `json:"creationDate"`
	MFAAuthenticated string    `json:"mfaAuthenticated"`
}

// Resource is one element of a record's resources list.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type,omitempty"` // AWS::RDS::DBCluster, ...
}

// Event is one record of the trail, in CloudTrail's record format.
type Event struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        UserIdentity   `json:"userIdentity"`
	EventTime           time.Time      `json:"eventTime"`
	EventSource         string         `json:"eventSource"` // rds.amazonaws.com, signin.amazonaws.com, ...
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress,omitempty"`
	UserAgent           string         `json:"userAgent,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestID           string         `json:"requestID,omitempty"`
	EventID             string         `json:"eventID"`
	EventType           string         `json:"eventType"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []Resource     `json:"resources,omitempty"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId,omitempty"`
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	EventCategory       string         `json:"eventCategory"`
	// SessionCredentialFromConsole is "true" for a call made from the console.
	SessionCredentialFromConsole string `json:"sessionCredentialFromConsole,omitempty"`
}

// EventVersion is the record format version Borealis writes (CloudTrail's current one).
const EventVersion = "1.09"

// Stored is an event as read back from the trail: its place in the chain and the exact
// JSON record that was hashed.
type Stored struct {
	Seq   uint64
	Hash  string
	Event Event
	Raw   json.RawMessage
}
