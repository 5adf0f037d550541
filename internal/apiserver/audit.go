package apiserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/sigv4"
)

// Recorder keeps the audit trail; Record returns once the event is durable.
type Recorder interface {
	Record(ctx context.Context, e audit.Event) error
}

// Rejected requests (no valid signature, garbage) are recorded at most this often: a
// token bucket of rejectedBurst events refilled at rejectedRate per second, the events
// left out counted in the next one recorded. A flood from anyone without a key thus
// writes at most 100 + 17,280 events a day (about 35 MiB at 2 KiB an event).
const (
	rejectedRate  = 0.2
	rejectedBurst = 100
)

// Bounds on what a request puts in its event: a user agent, each parameter value, all
// parameters together (names and values; what is left out is counted in the event). Any
// caller with a key, even one allowed nothing, can make calls; without the last bound each
// call of a megabyte would write a megabyte to the trail.
const (
	maxUserAgent  = 512
	maxParamValue = 8 << 10
	maxParams     = 64 << 10
)

// notRecorded is what the caller sees when its call's event could not be made durable:
// the call is not acknowledged (it may have been carried out).
var notRecorded = &awsquery.Error{
	Code:    "InternalFailure",
	Message: "The request's audit event could not be recorded, so the request is not acknowledged; it may have been carried out. Retry once the audit trail is writable.",
	Status:  http.StatusInternalServerError,
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "...(truncated)"
	}
	return s
}

// identity is the caller as CloudTrail's userIdentity.
func identity(p principal.Principal) audit.UserIdentity {
	id := audit.UserIdentity{ARN: p.ARN, AccountID: p.AccountID, AccessKeyID: p.AccessKeyID, PrincipalID: p.UserID}
	switch p.Type {
	case principal.Root:
		id.Type = "Root"
		id.PrincipalID = p.AccountID
	case principal.User:
		id.Type = "IAMUser"
		id.UserName = p.UserName
	default:
		id.Type = p.Type
		id.UserName = p.UserName
	}
	if sess := p.Session; sess != nil {
		sc := &audit.SessionContext{SourceIdentity: sess.SourceIdentity,
			Attributes: audit.SessionAttributes{CreationDate: sess.IssuedAt.UTC(), MFAAuthenticated: strconv.FormatBool(!sess.MFAAt.IsZero())}}
		if sess.RoleID != "" {
			sc.SessionIssuer = &audit.SessionIssuer{Type: "Role", PrincipalID: sess.RoleID, ARN: sess.RoleARN, AccountID: p.AccountID, UserName: sess.RoleName}
		}
		id.SessionContext = sc
	}
	return id
}

// requestParameters are the call's parameters as the trail keeps them: secrets hidden,
// each value bounded, and all of them within maxParams (in name order; omitted counts the
// parameters left out).
func requestParameters(v url.Values) (out map[string]any, omitted int) {
	out = audit.Redact(v)
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	size := 0
	for _, k := range keys {
		size += len(k)
		switch x := out[k].(type) {
		case string:
			x = clipText(x, maxParamValue)
			out[k], size = x, size+len(x)
		case []string:
			for i := range x {
				x[i] = clipText(x[i], maxParamValue)
				size += len(x[i])
			}
		}
		if size > maxParams {
			delete(out, k)
			omitted++
		}
	}
	return out, omitted
}

// decision is what the trail says about the authorization of a call.
func decision(err error) map[string]any {
	var d *authz.Denial
	if !errors.As(err, &d) {
		return map[string]any{"decision": "allowed"}
	}
	m := map[string]any{"decision": d.Decision, "action": d.Action, "resource": d.Resource}
	if d.Policy != "" || d.Statement != "" {
		m["policy"], m["statement"] = d.Policy, d.Statement
	} else {
		m["reason"] = "no statement allows the action"
	}
	return m
}

// callEvent is the event of one authenticated call, allowed or denied; authErr is the
// authorization's refusal (nil: allowed), err the call's outcome.
func (h *Handler) callEvent(caller principal.Principal, service, action string, values url.Values, r *http.Request, reqID string, console bool, resources []authz.Resource, authErr, err error) audit.Event {
	e := audit.Event{
		UserIdentity:        identity(caller),
		EventSource:         service + ".amazonaws.com",
		EventName:           action,
		AWSRegion:           h.Region,
		SourceIPAddress:     sourceIP(r),
		UserAgent:           clipText(r.UserAgent(), maxUserAgent),
		RequestID:           reqID,
		EventType:           audit.TypeAPICall,
		ReadOnly:            audit.IsReadOnly(action),
		ManagementEvent:     true,
		RecipientAccountID:  caller.AccountID,
		AdditionalEventData: map[string]any{"authorization": decision(authErr)},
	}
	var omitted int
	if e.RequestParameters, omitted = requestParameters(values); omitted > 0 {
		e.AdditionalEventData["requestParametersOmitted"] = omitted
	}
	if console {
		e.SessionCredentialFromConsole = "true"
	}
	for _, res := range resources {
		if res.ARN != "" && res.ARN != "*" {
			e.Resources = append(e.Resources, audit.Resource{ARN: res.ARN, AccountID: caller.AccountID, Type: audit.ResourceType(res.ARN)})
		}
	}
	if err != nil {
		ae := awsquery.AsError(err)
		e.ErrorCode, e.ErrorMessage = ae.Code, ae.Message
	}
	return e
}

// readier is a Recorder that can tell beforehand whether an event would be written
// (audit.Trail: open, with space reserved for it).
type readier interface {
	Ready(need int64) error
}

// maxEventBytes bounds one call's event (its parameters are bounded at maxParams).
const maxEventBytes = maxParams + 64<<10

// trailRefused answers a call refused because its event could not be written.
var trailRefused = &awsquery.Error{
	Code:    "ServiceUnavailable",
	Message: "The audit trail cannot record the request now (its volume may be full), so nothing was done. Retry once the audit trail is writable.",
	Status:  http.StatusServiceUnavailable,
}

// ready says whether the call's event could be recorded, before the call is carried out.
func (h *Handler) ready(action string) error {
	r, ok := h.Trail.(readier)
	if !ok {
		return nil
	}
	if err := r.Ready(maxEventBytes); err != nil {
		h.Log.Error("audit: a call refused, as its event could not be recorded", "action", action, "err", err)
		return trailRefused
	}
	return nil
}

// record makes e durable, or turns the call into a failure.
func (h *Handler) record(ctx context.Context, e audit.Event, err error) error {
	if h.Trail == nil {
		return err
	}
	if rerr := h.Trail.Record(context.WithoutCancel(ctx), e); rerr != nil {
		h.Log.Error("audit: the call's event was not recorded", "request_id", e.RequestID, "action", e.EventName, "err", rerr)
		return notRecorded
	}
	return err
}

// recordRejected records a request refused before any caller was established (a bad or
// missing signature, an unknown key, a malformed request), within the rejected-request
// budget. The refusal is answered even if its event cannot be recorded: nothing was done.
func (h *Handler) recordRejected(ctx context.Context, r *http.Request, service, action, reqID string, err error) {
	if h.Trail == nil {
		return
	}
	ok, suppressed := h.rejected.Allow(time.Now())
	if !ok {
		return
	}
	ae := awsquery.AsError(err)
	source := "unknown"
	if _, served := h.Services[service]; served {
		source = service + ".amazonaws.com"
	}
	e := audit.Event{
		UserIdentity:    audit.UserIdentity{Type: "Unknown", AccessKeyID: claimedKeyID(r)},
		EventSource:     source,
		EventName:       cleanAction(action),
		AWSRegion:       h.Region,
		SourceIPAddress: sourceIP(r),
		UserAgent:       clipText(r.UserAgent(), maxUserAgent),
		ErrorCode:       ae.Code,
		ErrorMessage:    clipText(ae.Message, 512),
		RequestID:       reqID,
		EventType:       audit.TypeAPICall,
		ReadOnly:        audit.IsReadOnly(action),
		ManagementEvent: true,
		AdditionalEventData: map[string]any{
			"authenticated":           false,
			"suppressedSincePrevious": suppressed,
		},
	}
	if rerr := h.Trail.Record(context.WithoutCancel(ctx), e); rerr != nil {
		h.Log.Error("audit: a rejected request's event was not recorded", "request_id", reqID, "err", rerr)
	}
}

// claimedKeyID is the access key id a refused request claims, if it looks like one (upper
// case letters and digits): a secret key pasted in its place is not recorded, as
// CloudTrail hides a sign-in's mistyped user name.
func claimedKeyID(r *http.Request) string {
	k := sigv4.ClaimedAccessKey(r)
	if len(k) > 128 || strings.IndexFunc(k, func(r rune) bool { return !('A' <= r && r <= 'Z' || '0' <= r && r <= '9') }) >= 0 {
		return audit.Hidden
	}
	return k
}

// cleanAction keeps a claimed action name only if it looks like one.
func cleanAction(a string) string {
	if a == "" || len(a) > 64 || strings.IndexFunc(a, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) >= 0 {
		return "Unknown"
	}
	return a
}
