package console

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		http.StripPrefix("/console/", http.FileServerFS(assets)).ServeHTTP(w, r)
	})
	m.HandleFunc("GET /console/signin", c.signInPage)
	m.HandleFunc("POST /console/signin", c.signIn)
	m.HandleFunc("GET /console/mfa", c.pending(stageMFA, c.mfaPage))
	m.HandleFunc("POST /console/mfa", c.pending(stageMFA, c.mfa))
	m.HandleFunc("GET /console/password", c.pending(stageReset, c.passwordPage))
	m.HandleFunc("POST /console/password", c.pending(stageReset, c.password))
	m.HandleFunc("POST /console/signout", c.signOut)

	m.HandleFunc("GET /console/{$}", c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/databases", http.StatusSeeOther)
	}))
	c.databaseRoutes(m)
	c.instanceRoutes(m)
	c.networkRoutes(m)
	c.parameterRoutes(m)
	c.iamRoutes(m)
	c.historyRoutes(m)
	c.snapshotRoutes(m)
	c.mux = m
}

// signedIn lets a request through only with a finished sign-in; others go to the sign-in
// page.
func (c *Console) signedIn(h http.HandlerFunc) http.HandlerFunc {
	return c.pending(stageDone, h)
}

// pending lets a request through only with a session at stage want (a finished sign-in,
// or a step between a right password and a finished sign-in), re-read from IAM: the
// principal's tags are those of now, and a session whose user or password is gone ends.
func (c *Console) pending(want stage, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur, ok := c.sessions.get(r)
		if !ok || cur.stage != want {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		p, ok, err := c.cfg.Auth.Session(r.Context(), cur.principal, cur.verified)
		if err != nil {
			c.cfg.Log.Error("console: session", "err", err)
			http.Error(w, "The console is not available right now.", http.StatusInternalServerError)
			return
		}
		if !ok {
			c.cfg.Log.Info("console: session ended, the user or its password is gone", "principal", cur.principal.ARN)
			c.sessions.end(w, r)
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		p.MFA = cur.principal.MFA // proven at sign-in, for this session only
		cur.principal = p
		if cur.role != nil {
			// Switched to a role: every request is the role session's, proven afresh, so an
			// expired or revoked session (or a deleted role) ends the switch at once.
			rp, err := c.cfg.Auth.RoleSession(r.Context(), cur.role.keyID, cur.role.token)
			if err != nil {
				c.sessions.switchRole(cur.s, nil)
				c.sessions.flash(cur.s, "", "The role session ended ("+c.errorText(err)+"): back to "+p.ARN+".")
				http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
				return
			}
			cur.signedIn, cur.principal = p.ARN, rp
		}
		h(w, r.WithContext(withSession(r.Context(), cur)))
	}
}

type signInForm struct {
	Account, User string
	Root          bool
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if cur, ok := c.sessions.get(r); ok && cur.stage == stageDone {
		http.Redirect(w, r, "/console/databases", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin.html", page{Title: "Sign in", Data: signInForm{Account: c.cfg.AccountID}})
}

// sourceKeyOf is the throttle key of a request's source: its IPv4 address, or the /64 of
// an IPv6 one, since one host commonly holds a whole /64.
func sourceKeyOf(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return "source:" + remoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "source:" + p.String()
	}
	return "source:" + a.String()
}

// badSignIn is the one message for every wrong sign-in: it does not tell whether the
// account, the user or the password was wrong.
const badSignIn = "Your authentication information is incorrect. Please try again."

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	account := strings.TrimSpace(r.PostFormValue("account"))
	user := strings.TrimSpace(r.PostFormValue("user"))
	password := r.PostFormValue("password")
	root := r.PostFormValue("kind") == "root"
	if root {
		user = "" // the root user has no IAM user name
	}
	form := signInForm{Account: account, User: user, Root: root}
	source := sourceIP(r)
	// The user's key names the user, not the account as typed: serve has one account,
	// and its id and alias must not be two budgets for the same password.
	userKey := "user:" + strings.ToLower(user)
	if root {
		userKey = "root"
	}
	// A browser that signed in as this user before is throttled on its own: a stranger
	// guessing from elsewhere slows down the strangers, not the owner on their browser.
	own, sourceKey := userKey, sourceKeyOf(r.RemoteAddr)
	if id, ok := c.devices.verify(r, userKey); ok {
		own = "device:" + id
	}
	if !c.awaitSlot(w, r, "signin.html", "Sign in", form, own, sourceKey) {
		return
	}
	var login Login
	var ok bool
	var err error
	checkedAt := c.cfg.Now() // a password set after this ends the session
	if root {
		login, ok, err = c.cfg.Auth.SignInRoot(r.Context(), account, password)
	} else {
		login, ok, err = c.cfg.Auth.SignIn(r.Context(), account, user, password)
	}
	if err != nil {
		c.cfg.Log.Error("console: sign-in", "err", err)
		c.render(w, r, http.StatusInternalServerError, "signin.html", page{Title: "Sign in", Error: "Sign-in is not available right now.", Data: form})
		return
	}
	if !ok || user == "" && !root || password == "" {
		c.cfg.Log.Info("console: sign-in failed", "account", account, "user", user, "source", source)
		c.failedSignIn(r, user, root, "Failed authentication")
		c.render(w, r, http.StatusUnauthorized, "signin.html", page{Title: "Sign in", Error: badSignIn, Data: form})
		return
	}
	c.throttle.succeeded(own, sourceKey)
	c.devices.issue(w, r, userKey)
	if login.HardExpired {
		c.cfg.Log.Info("console: sign-in refused, password expired", "principal", login.Principal.ARN, "source", source)
		_ = c.recordSignIn(r, signInOutcome{p: login.Principal, known: true, reason: "Password expired"})
		c.render(w, r, http.StatusForbidden, "signin.html", page{Title: "Sign in", Data: form,
			Error: "Your password has expired. Ask your administrator to reset it."})
		return
	}
	s := &session{principal: login.Principal, user: user, stage: stageDone, reset: login.ResetRequired, verified: checkedAt}
	next := "/console/databases"
	switch {
	case login.MFARequired:
		s.stage, next = stageMFA, "/console/mfa"
	case login.ResetRequired:
		s.stage, next = stageReset, "/console/password"
	}
	if s.stage != stageMFA { // with MFA, the sign-in is recorded once the code is checked
		if err := c.recordSignIn(r, signInOutcome{p: login.Principal, known: true, success: true}); err != nil {
			c.render(w, r, http.StatusInternalServerError, "signin.html", page{Title: "Sign in", Error: "Sign-in is not available right now.", Data: form})
			return
		}
	}
	c.sessions.end(w, r) // a new session id at every sign-in: no fixation
	c.sessions.start(w, r, s)
	c.cfg.Log.Info("console: signed in", "principal", login.Principal.ARN, "source", source, "next", next)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) mfaPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "mfa.html", page{Title: "Multi-factor authentication"})
}

// mfa checks a code for a pending session. Both the user's MFA throttle and the session's
// tries count a code before it is checked, so codes sent in parallel are held to the
// serial rate; after maxMFACodes wrong codes the session ends and the password is needed
// again (and the password throttle applies again).
func (c *Console) mfa(w http.ResponseWriter, r *http.Request) {
	const title = "Multi-factor authentication"
	cur, _ := sessionFrom(r.Context())
	key := "mfa:" + cur.principal.ARN
	if !c.awaitSlot(w, r, "mfa.html", title, nil, key) {
		return
	}
	if !c.sessions.tryMFA(cur.s) {
		c.mfaSpent(w, r, cur)
		return
	}
	ok, err := c.cfg.Auth.CheckMFA(r.Context(), cur.user, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil || !ok {
		if err != nil {
			c.cfg.Log.Error("console: mfa", "err", err)
		}
		_ = c.recordSignIn(r, signInOutcome{p: cur.principal, known: true, mfaUsed: true, reason: "Failed authentication"})
		if c.sessions.mfaFailed(cur.s) {
			c.mfaSpent(w, r, cur)
			return
		}
		c.render(w, r, http.StatusUnauthorized, "mfa.html", page{Title: title, Error: "The code is not right. Enter the current code from your MFA device."})
		return
	}
	c.throttle.succeeded(key)
	if err := c.recordSignIn(r, signInOutcome{p: cur.principal, known: true, success: true, mfaUsed: true}); err != nil {
		c.sessions.end(w, r)
		c.render(w, r.WithContext(context.Background()), http.StatusInternalServerError, "signin.html", page{Title: "Sign in", Error: "Sign-in is not available right now."})
		return
	}
	switch next, ok := c.sessions.mfaDone(cur.s); {
	case !ok:
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
	case next == stageReset:
		http.Redirect(w, r, "/console/password", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/console/databases", http.StatusSeeOther)
	}
}

// mfaSpent ends a pending session that has had its MFA codes.
func (c *Console) mfaSpent(w http.ResponseWriter, r *http.Request, cur current) {
	c.cfg.Log.Info("console: too many wrong MFA codes, pending sign-in ended", "principal", cur.principal.ARN)
	c.sessions.end(w, r)
	// Rendered without the ended session.
	c.render(w, r.WithContext(context.Background()), http.StatusUnauthorized, "signin.html", page{Title: "Sign in",
		Error: "Too many wrong MFA codes. Sign in again.", Data: signInForm{Account: c.cfg.AccountID, User: cur.user}})
}

// awaitSlot waits for the attempt's slot in the throttle of keys; false when the attempt
// was refused unchecked (the answer is written) or the client left.
func (c *Console) awaitSlot(w http.ResponseWriter, r *http.Request, name, title string, data any, keys ...string) bool {
	wait, ok := c.throttle.admit(keys...)
	if !ok {
		c.tooManyAttempts(w, r, name, title, wait, data)
		return false
	}
	return wait <= 0 || c.sleep(r.Context(), wait)
}

// sleepCtx waits d, or less if ctx ends first (then false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// tooManyAttempts refuses an attempt whose slot in a throttle is too far away, without
// checking it.
func (c *Console) tooManyAttempts(w http.ResponseWriter, r *http.Request, name, title string, wait time.Duration, data any) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	c.render(w, r, http.StatusTooManyRequests, name, page{Title: title, Data: data,
		Error: fmt.Sprintf("Too many attempts. Wait %d second(s) and try again.", secs)})
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "password.html", page{Title: "Choose a new password"})
}

func (c *Console) password(w http.ResponseWriter, r *http.Request) {
	cur, _ := sessionFrom(r.Context())
	old, nw, again := r.PostFormValue("old"), r.PostFormValue("new"), r.PostFormValue("again")
	if nw != again {
		c.render(w, r, http.StatusBadRequest, "password.html", page{Title: "Choose a new password", Error: "The new passwords do not match."})
		return
	}
	if err := c.trailReady(); err != nil {
		c.cfg.Log.Error("console: password change refused, as its event could not be recorded", "err", err)
		c.render(w, r, http.StatusServiceUnavailable, "password.html", page{Title: "Choose a new password",
			Error: "Your password cannot be changed right now: the audit trail cannot record the change. Nothing was changed."})
		return
	}
	err := c.cfg.Auth.ChangePassword(r.Context(), cur.user, old, nw)
	if rerr := c.recordOwnPasswordChange(r, cur.principal, err); rerr != nil && err == nil {
		c.render(w, r, http.StatusInternalServerError, "password.html", page{Title: "Choose a new password",
			Error: "Your password was changed, but the change could not be recorded in the audit trail."})
		return
	}
	if err != nil {
		c.render(w, r, http.StatusBadRequest, "password.html", page{Title: "Choose a new password", Error: c.errorText(err)})
		return
	}
	c.sessions.passwordChanged(cur.s)
	c.redirect(w, r, "/console/databases", "Your password was changed.")
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	c.sessions.end(w, r)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
