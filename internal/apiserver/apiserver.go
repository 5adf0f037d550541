// Package apiserver is the management endpoint: one HTTP handler that authenticates every
// Query-protocol request with SigV4 and routes it, by the service named in the signature's
// credential scope, to that service's actions. It also serves the CA trust bundle.
package apiserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/sigv4"
)

// Service is one AWS service's set of actions.
type Service interface {
	Do(ctx context.Context, action string, p awsquery.Params) (any, error)
}

// Authorizable is a Service that names the resources and service condition keys of each
// action; a Service that is not is authorized against resource "*".
type Authorizable interface {
	Authorization(ctx context.Context, action string, p awsquery.Params) ([]authz.Resource, map[string][]string)
}

// Authenticator turns a verified access key into the caller.
type Authenticator func(ctx context.Context, accessKeyID, sessionToken string) (principal.Principal, error)

// Authorizer decides whether the caller may perform action ("rds:CreateDBCluster") on every
// resource, given the request's condition keys and each resource's own; it returns the AWS
// error to send if not.
type Authorizer func(ctx context.Context, p principal.Principal, action string, resources []authz.Resource, keys map[string][]string) error

// Endpoint is a service the API serves: its signing name, XML namespace and API version.
type Endpoint struct {
	Namespace string
	Version   string
	Service   Service
	// WriteResult and WriteError write a service's own envelopes, for a service whose SDKs
	// parse another dialect of the Query protocol (EC2: awsquery.WriteEC2Result and
	// WriteEC2Error). Nil means awsquery.WriteResult and WriteError, as RDS, IAM and STS use.
	WriteResult func(w http.ResponseWriter, namespace, action, requestID string, result any)
	WriteError  func(w http.ResponseWriter, namespace, requestID string, err error)
	// JSONTarget, when set, makes this a JSON 1.1 service (CloudTrail): the action comes
	// from X-Amz-Target "<JSONTarget>.<Action>" and the input is a JSON object.
	JSONTarget string
}

// Config assembles the handler.
type Config struct {
	Region   string
	Verifier *sigv4.Verifier
	Services map[string]Endpoint // by signing name: "rds", later "ec2", "iam", "sts"
	// Authenticate and Authorize run for every request after SigV4 and before the action.
	Authenticate Authenticator
	Authorize    Authorizer
	// CABundle returns the trust bundle served at /global-bundle.pem; it is asked on each
	// download, since CAs can be added while serve runs.
	CABundle  func(context.Context) ([]byte, error)
	Metrics   http.Handler // served at /metrics (Prometheus text format), if set
	Log       *slog.Logger
	MaxBodyKB int64
	// BrowserHome is where a browser opening "/" is sent (the console), rather than to an
	// XML error; "" keeps the error.
	BrowserHome string
	// Trail, if set, records every call (allowed or denied) before its answer is written,
	// and the requests refused before a caller is known, within a budget.
	Trail Recorder
}

// Handler serves the API over HTTP, and lets other front ends (the console) run actions
// through the same authorization.
type Handler struct {
	Config
	mux      *http.ServeMux
	rejected *audit.Limiter
}

// New returns the API's handler.
func New(cfg Config) *Handler {
	if cfg.MaxBodyKB == 0 {
		cfg.MaxBodyKB = 1024
	}
	mux := http.NewServeMux()
	h := &Handler{Config: cfg, mux: mux, rejected: &audit.Limiter{Rate: rejectedRate, Burst: rejectedBurst}}
	mux.HandleFunc("GET /global-bundle.pem", h.bundle)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	mux.HandleFunc("POST /{$}", h.query)
	mux.HandleFunc("GET /{$}", h.query)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Call runs one action of service as caller, authorized exactly as a signed request from
// r's client would be: the console's buttons are API calls. values holds the action's
// parameters in Query form. The call is recorded in the trail as the console's.
func (h *Handler) Call(ctx context.Context, caller principal.Principal, service, action string, values url.Values, r *http.Request) (any, error) {
	return h.call(ctx, caller, service, action, values, r, awsquery.NewRequestID(), true)
}

// call authorizes and runs one action, and records it in the trail, allowed or denied,
// before returning: the one place where every call is decided.
func (h *Handler) call(ctx context.Context, caller principal.Principal, service, action string, values url.Values, r *http.Request, reqID string, console bool) (any, error) {
	ep, ok := h.Services[service]
	if !ok {
		return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidAction", "Service %s is not served here.", awsquery.Clip(service))
	}
	values.Set("Action", action)
	if values.Get("Version") == "" && ep.JSONTarget == "" {
		values.Set("Version", ep.Version)
	}
	ctx = principal.With(ctx, caller)
	p := awsquery.Params{Values: values}
	resources, keys := []authz.Resource{authz.On("*")}, map[string][]string{}
	if az, ok := ep.Service.(Authorizable); ok {
		resources, keys = az.Authorization(ctx, action, p)
	}
	addGlobalKeys(keys, r, caller, h.Region)
	if err := h.Authorize(ctx, caller, service+":"+action, resources, keys); err != nil {
		return nil, h.record(ctx, h.callEvent(caller, service, action, values, r, reqID, console, resources, err, err), err)
	}
	ctx = authz.WithKeys(ctx, keys) // for an action that decides in part itself (sts:AssumeRole)
	if err := h.ready(action); err != nil {
		// not carried out (whatever becomes of its event, tried all the same: a smaller one may fit)
		_ = h.record(ctx, h.callEvent(caller, service, action, values, r, reqID, console, resources, nil, err), err)
		return nil, err
	}
	res, err := ep.Service.Do(ctx, action, p)
	err = clientError(err)
	if err := h.record(ctx, h.callEvent(caller, service, action, values, r, reqID, console, resources, nil, err), err); err != nil {
		return nil, err
	}
	return res, nil
}

func (h *Handler) bundle(w http.ResponseWriter, r *http.Request) {
	if h.CABundle == nil {
		http.NotFound(w, r)
		return
	}
	b, err := h.CABundle(r.Context())
	if err != nil {
		h.Log.Error("trust bundle", "err", err)
		http.Error(w, "the trust bundle is unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="global-bundle.pem"`)
	_, _ = w.Write(b)
}

// defaultNamespace is used for errors that occur before the service is known.
const defaultNamespace = "http://rds.amazonaws.com/doc/2014-10-31/"

// isBrowserVisit reports a plain browser visit of "/": a GET with nothing to sign and
// nothing signed, asking for HTML. No SDK request looks like this.
func isBrowserVisit(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.RawQuery == "" && r.Header.Get("Authorization") == "" &&
		strings.Contains(r.Header.Get("Accept"), "text/html")
}

func (h *Handler) query(w http.ResponseWriter, r *http.Request) {
	if h.BrowserHome != "" && isBrowserVisit(r) {
		http.Redirect(w, r, h.BrowserHome, http.StatusFound)
		return
	}
	start := time.Now()
	reqID := awsquery.NewRequestID()
	ns, writeError, writeResult := defaultNamespace, awsquery.WriteError, awsquery.WriteResult
	svc := "" // the service the signature's scope names, even if the signature fails
	if s, _, ok := sigv4.ParseScope(r); ok {
		svc = s
		if ep, ok := h.Services[svc]; ok {
			ns = ep.Namespace
			if ep.WriteError != nil {
				writeError = ep.WriteError
			}
			if ep.WriteResult != nil {
				writeResult = ep.WriteResult
			}
		}
	}
	action, status, akid, called := "", http.StatusOK, "", false
	fail := func(err error) {
		if !called {
			h.recordRejected(r.Context(), r, svc, action, reqID, err)
		}
		e := awsquery.AsError(clientError(err))
		status = e.Status
		if status >= 500 {
			h.Log.Error("request failed", "request_id", reqID, "action", action, "err", err)
		}
		writeError(w, ns, reqID, e)
	}
	defer func() {
		h.Log.Info("api", "request_id", reqID, "action", action, "status", status, "access_key", akid,
			"source", r.RemoteAddr, "ms", time.Since(start).Milliseconds())
	}()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBodyKB<<10))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(awsquery.Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is larger than %d KiB.", h.MaxBodyKB))
		} else {
			fail(awsquery.Errorf(http.StatusBadRequest, "MalformedQueryString", "The request body could not be read."))
		}
		return
	}
	id, err := h.Verifier.Verify(r.Context(), r, body)
	if err != nil {
		action = claimedAction(r, body, h.Services[svc].JSONTarget)
		fail(err)
		return
	}
	akid = id.AccessKeyID
	if id.Region != h.Region {
		fail(awsquery.Errorf(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '%s'. ", awsquery.Clip(id.Region)))
		return
	}
	ep, ok := h.Services[id.Service]
	if !ok {
		fail(awsquery.Errorf(http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '%s' is not served by this endpoint.", awsquery.Clip(id.Service)))
		return
	}
	var params url.Values
	if ep.JSONTarget != "" {
		if action, err = jsonAction(r, ep.JSONTarget); err != nil {
			fail(err)
			return
		}
		if params, err = jsonValues(body); err != nil {
			fail(err)
			return
		}
		params.Del("Action")
	} else {
		if params, err = formValues(r, body); err != nil {
			fail(err)
			return
		}
		action = params.Get("Action")
		if action == "" {
			fail(awsquery.Errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action."))
			return
		}
		if v := params.Get("Version"); v != ep.Version {
			fail(awsquery.Errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", awsquery.Clip(action), awsquery.Clip(v)))
			return
		}
	}
	caller, err := h.Authenticate(r.Context(), id.AccessKeyID, id.SessionToken)
	if err != nil {
		fail(err)
		return
	}
	called = true
	result, err := h.call(r.Context(), caller, id.Service, action, params, r, reqID, false)
	if err != nil {
		fail(err)
		return
	}
	writeResult(w, ep.Namespace, action, reqID, result)
}

// formValues merges the URL's query and, for a form POST, the body: the Query protocol
// allows both, and the SDKs use the body.
func formValues(r *http.Request, body []byte) (url.Values, error) {
	v := r.URL.Query()
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
			return nil, awsquery.Errorf(http.StatusBadRequest, "MalformedQueryString", "Content-Type must be application/x-www-form-urlencoded.")
		}
		bv, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, awsquery.Errorf(http.StatusBadRequest, "MalformedQueryString", "The request body is not a valid form encoding.")
		}
		for k, vals := range bv {
			v[k] = append(v[k], vals...)
		}
	}
	return v, nil
}

// addGlobalKeys fills the global condition keys every request carries.
func addGlobalKeys(keys map[string][]string, r *http.Request, p principal.Principal, region string) {
	maps.Copy(keys, p.ConditionKeys(time.Now()))
	keys["aws:SourceIp"] = []string{sourceIP(r)}
	keys["aws:SecureTransport"] = []string{strconv.FormatBool(r.TLS != nil)}
	keys["aws:RequestedRegion"] = []string{region}
}

// claimedAction is the action a request that failed authentication names, best effort,
// for its event.
func claimedAction(r *http.Request, body []byte, jsonTarget string) string {
	if jsonTarget != "" {
		a, _ := jsonAction(r, jsonTarget)
		return a
	}
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	if v, err := url.ParseQuery(string(body)); err == nil {
		return v.Get("Action")
	}
	return ""
}
