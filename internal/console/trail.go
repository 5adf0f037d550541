package console

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
)

// Recorder keeps the audit trail; Record returns once the event is durable.
type Recorder interface {
	Record(ctx context.Context, e audit.Event) error
}

// subjects names whom a failed sign-in was aimed at (optional for an Authenticator).
type subjects interface {
	UserPrincipal(ctx context.Context, user string) (principal.Principal, bool, error)
	RootPrincipal() principal.Principal
}

// Sign-in failures that name no user are recorded within this budget (the API's: see
// apiserver): anyone can cause them, from anywhere. Failures aimed at a real user are
// already slowed by that user's sign-in throttle.
const (
	anonymousSignInRate  = 0.2
	anonymousSignInBurst = 100
)

// signIn is one console sign-in attempt's outcome, for the trail.
type signInOutcome struct {
	p       principal.Principal // who signed in, or whom the attempt was aimed at
	known   bool                // p is a real identity (else the name typed is hidden)
	success bool
	mfaUsed bool
	reason  string // why it failed
}

// recordSignIn records a ConsoleLogin event, as CloudTrail does, before the answer is
// written. An error means the event is not durable: a successful sign-in must not proceed.
func (c *Console) recordSignIn(r *http.Request, o signInOutcome) error {
	if c.cfg.Trail == nil {
		return nil
	}
	suppressed := uint64(0)
	if !o.known {
		ok, n := c.anonymousSignIns.Allow(time.Now())
		if !ok {
			return nil
		}
		suppressed = n
	}
	id := audit.UserIdentity{Type: "IAMUser", AccountID: c.cfg.AccountID, UserName: audit.Hidden}
	if o.known {
		id = audit.UserIdentity{Type: "IAMUser", PrincipalID: o.p.UserID, ARN: o.p.ARN, AccountID: o.p.AccountID, UserName: o.p.UserName}
		if o.p.IsRoot() {
			id.Type, id.PrincipalID, id.UserName = "Root", o.p.AccountID, ""
		}
	}
	result, mfa := "Failure", "No"
	if o.success {
		result = "Success"
	}
	if o.mfaUsed {
		mfa = "Yes"
	}
	e := audit.Event{
		UserIdentity:       id,
		EventSource:        "signin.amazonaws.com",
		EventName:          "ConsoleLogin",
		AWSRegion:          c.cfg.Region,
		SourceIPAddress:    sourceIP(r),
		UserAgent:          userAgent(r),
		ResponseElements:   map[string]any{"ConsoleLogin": result},
		EventType:          audit.TypeConsoleSignIn,
		ManagementEvent:    true,
		RecipientAccountID: c.cfg.AccountID,
		AdditionalEventData: map[string]any{
			"LoginTo":       "/console/",
			"MobileVersion": "No",
			"MFAUsed":       mfa,
		},
	}
	if !o.known {
		e.AdditionalEventData["suppressedSincePrevious"] = suppressed
	}
	if !o.success {
		e.ErrorMessage = o.reason
	}
	if err := c.cfg.Trail.Record(context.WithoutCancel(r.Context()), e); err != nil {
		c.cfg.Log.Error("console: the sign-in's event was not recorded", "err", err)
		return err
	}
	return nil
}

// failedSignIn records a failed sign-in aimed at user (or the root user).
func (c *Console) failedSignIn(r *http.Request, user string, root bool, reason string) {
	o := signInOutcome{reason: reason}
	if s, ok := c.cfg.Auth.(subjects); ok {
		if root {
			o.p, o.known = s.RootPrincipal(), true
		} else if user != "" {
			p, known, err := s.UserPrincipal(r.Context(), user)
			if err != nil {
				c.cfg.Log.Error("console: sign-in subject", "err", err)
			}
			o.p, o.known = p, known
		}
	}
	_ = c.recordSignIn(r, o)
}

// trailReady says whether an event can be recorded now, when the trail can tell (see
// audit.Trail.Ready), for what the console carries out before recording it.
func (c *Console) trailReady() error {
	if r, ok := c.cfg.Trail.(interface{ Ready(need int64) error }); ok {
		return r.Ready(16 << 10)
	}
	return nil
}

// recordOwnPasswordChange records the console's password change, which IAM carries out
// outside the API's path (the session may not yet be allowed any action), as CloudTrail
// records iam:ChangePassword; the passwords are hidden.
func (c *Console) recordOwnPasswordChange(r *http.Request, p principal.Principal, err error) error {
	if c.cfg.Trail == nil {
		return nil
	}
	e := audit.Event{
		UserIdentity:                 audit.UserIdentity{Type: "IAMUser", PrincipalID: p.UserID, ARN: p.ARN, AccountID: p.AccountID, UserName: p.UserName},
		EventSource:                  "iam.amazonaws.com",
		EventName:                    "ChangePassword",
		AWSRegion:                    c.cfg.Region,
		SourceIPAddress:              sourceIP(r),
		UserAgent:                    userAgent(r),
		RequestParameters:            map[string]any{"oldPassword": audit.Hidden, "newPassword": audit.Hidden},
		EventType:                    audit.TypeAPICall,
		ManagementEvent:              true,
		RecipientAccountID:           c.cfg.AccountID,
		Resources:                    []audit.Resource{{ARN: p.ARN, AccountID: p.AccountID, Type: audit.ResourceType(p.ARN)}},
		SessionCredentialFromConsole: "true",
	}
	if err != nil {
		ae := awsquery.AsError(err)
		e.ErrorCode, e.ErrorMessage = ae.Code, ae.Message
	}
	if rerr := c.cfg.Trail.Record(context.WithoutCancel(r.Context()), e); rerr != nil {
		c.cfg.Log.Error("console: the password change's event was not recorded", "err", rerr)
		return rerr
	}
	return nil
}

// sourceIP is the address a request came from (its host, without the port).
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// userAgent is the request's User-Agent as an event records it: at most 512 bytes.
func userAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return ua
}
