// Package console is the web console: server-rendered pages on the API address where a
// person signs in with IAM user credentials and manages clusters. Every button is an API
// action run through the same authorization as a signed request, for the signed-in user,
// so the console can never do more than that user's policies allow.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/xml"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// Caller runs one API action as a principal, authorized as the API authorizes it.
type Caller func(ctx context.Context, caller principal.Principal, service, action string, values url.Values, r *http.Request) (any, error)

// Authenticator checks sign-in credentials; see iam.Service.ConsoleSignIn.
type Authenticator interface {
	// SignIn checks an IAM user's password; account is the account id or alias. ok is
	// false for any mismatch, with no hint of which part.
	SignIn(ctx context.Context, account, user, password string) (Login, bool, error)
	// CheckMFA checks a TOTP code of the user's MFA device.
	CheckMFA(ctx context.Context, user, code string) (bool, error)
	// SignInRoot checks the root user's console password.
	SignInRoot(ctx context.Context, account, password string) (Login, bool, error)
	// ChangePassword sets a user's new password, as IAM's ChangePassword does.
	ChangePassword(ctx context.Context, user, oldPassword, newPassword string) error
	// RoleSession is the principal temporary credentials (a role session the console switched
	// to) name now; an error (ExpiredToken, InvalidClientTokenId) once they name none.
	RoleSession(ctx context.Context, accessKeyID, sessionToken string) (principal.Principal, error)
	// Session re-reads a signed-in principal before each request of its session: the
	// principal as IAM has it now (its tags too). ok is false when the session must end:
	// the user is gone, or its console password was removed or set after verified, the
	// session's last proof of the password.
	Session(ctx context.Context, p principal.Principal, verified time.Time) (principal.Principal, bool, error)
}

// Login is a sign-in whose password was right.
type Login struct {
	Principal     principal.Principal
	ResetRequired bool // a new password is needed before anything else
	HardExpired   bool // the password expired and only an administrator can reset it
	MFARequired   bool // a code from the user's MFA device is needed
}

// Config is what the console needs.
type Config struct {
	Call      Caller
	Auth      Authenticator
	AccountID string
	Region    string
	// BundlePath is where the API serves the CA trust bundle.
	BundlePath string
	// NamesResolve: serve answers DNS for the endpoint names (--dns-addr), so a host whose
	// resolver asks it connects by the name alone.
	NamesResolve bool
	// EndpointHostaddr is an address the endpoints listen on, for the connection line of a
	// host whose resolver does not ask serve (libpq's hostaddr); "" shows none.
	EndpointHostaddr string
	// OwnHostaddr gives a reader or instance endpoint name the address of its own it
	// listens at (package epaddr), for its hostaddr line; nil or false: EndpointHostaddr.
	OwnHostaddr func(endpoint string, port int) (string, bool)
	// SessionTTL bounds a session's life (default 12 h); IdleTTL ends an unused one
	// (default 1 h).
	SessionTTL, IdleTTL time.Duration
	Log                 *slog.Logger
	Now                 func() time.Time
	// Trail, if set, records every sign-in (ConsoleLogin) before its answer.
	Trail Recorder
}

//go:embed templates static
var assets embed.FS

// Console serves the pages under /console/.
type Console struct {
	cfg      Config
	pages    map[string]*template.Template
	sessions *sessions
	throttle *throttle
	devices  *devices
	sleep    func(context.Context, time.Duration) bool // waits for a throttle's slot
	mux      *http.ServeMux
	// anonymousSignIns bounds the recorded sign-in failures that name no real user.
	anonymousSignIns *audit.Limiter
}

// New returns the console's handler, to be mounted at /console/.
func New(cfg Config) (*Console, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.IdleTTL == 0 {
		cfg.IdleTTL = time.Hour
	}
	if cfg.BundlePath == "" {
		cfg.BundlePath = "/global-bundle.pem"
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, pages: pages, sessions: newSessions(cfg.Now, cfg.SessionTTL, cfg.IdleTTL), throttle: newThrottle(cfg.Now), devices: newDevices(), sleep: sleepCtx,
		anonymousSignIns: &audit.Limiter{Rate: anonymousSignInRate, Burst: anonymousSignInBurst}}
	c.routes()
	return c, nil
}

// ServeHTTP adds the headers every page carries and refuses cross-origin state changes
// (Go's CrossOriginProtection: Sec-Fetch-Site, then Origin against Host).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	protect := http.NewCrossOriginProtection()
	protect.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.cfg.Log.Warn("console: cross-origin request refused", "path", r.URL.Path, "source", r.RemoteAddr, "origin", r.Header.Get("Origin"))
		http.Error(w, "Cross-origin request refused.", http.StatusForbidden)
	}))
	protect.Handler(c.mux).ServeHTTP(w, r)
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"add":          func(a, b int) int { return a + b },
		"transitional": func(status string) bool { return !store.Status(status).Settled() },
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, err
		}
		pages[n[len("templates/"):]] = t
	}
	return pages, nil
}

// page is what every template gets.
type page struct {
	Title string
	User  string // the signed-in principal's ARN, "" on the sign-in pages
	// SignedIn is the signed-in principal's ARN while the console runs as a role session
	// (User is then the session's).
	SignedIn string
	Account  string
	Region   string
	Error    string // an AWS error or a form problem, shown above the content
	Notice   string
	Refresh  int // seconds until the page reloads itself, while something is changing
	Data     any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if cur, ok := sessionFrom(r.Context()); ok {
		if cur.stage == stageDone {
			p.User, p.SignedIn = cur.principal.ARN, cur.signedIn
		}
		notice, errText := c.sessions.takeFlash(cur.s)
		if p.Notice == "" {
			p.Notice = notice
		}
		if p.Error == "" {
			p.Error = errText
		}
	}
	p.Account, p.Region = c.cfg.AccountID, c.cfg.Region
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.cfg.Log.Error("console: render", "page", name, "err", err)
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// call runs an action for the signed-in user and decodes its result, as the API would
// send it, into out: the console reads the same shapes as any API client.
func (c *Console) call(r *http.Request, service, action string, values url.Values, out any) error {
	cur, ok := sessionFrom(r.Context())
	if !ok {
		return errors.New("console: no session")
	}
	if values == nil {
		values = url.Values{}
	}
	result, err := c.cfg.Call(r.Context(), cur.principal, service, action, values, r)
	if err != nil {
		return err
	}
	if out == nil || result == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := xml.NewEncoder(&buf).EncodeElement(result, xml.StartElement{Name: xml.Name{Local: "Result"}}); err != nil {
		return err
	}
	return xml.Unmarshal(buf.Bytes(), out)
}

// errorText is what a page shows for a failed action: the AWS code and message, as the
// API returns them. Server faults stay in the log.
func (c *Console) errorText(err error) string {
	e := awsquery.AsError(err)
	if e.Status >= 500 {
		c.cfg.Log.Error("console: action failed", "err", err)
		return "The request could not be completed."
	}
	return e.Code + ": " + e.Message
}

// redirect sends the browser to path after a POST, with a notice for the next page.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, path, notice string) {
	if cur, ok := sessionFrom(r.Context()); ok && notice != "" {
		c.sessions.flash(cur.s, notice, "")
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}
