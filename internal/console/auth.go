package console

import (
	"net"
	"net/http"
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
	c.networkRoutes(m)
	c.parameterRoutes(m)
	c.iamRoutes(m)
	c.mux = m
}

// signedIn lets a request through only with a finished sign-in; others go to the sign-in
// page.
func (c *Console) signedIn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.sessions.get(r)
		if !ok || s.stage != stageDone {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(withSession(r.Context(), s)))
	}
}

// pending is signedIn for the steps between a right password and a finished sign-in.
func (c *Console) pending(want stage, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.sessions.get(r)
		if !ok || s.stage != want {
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(withSession(r.Context(), s)))
	}
}

type signInForm struct {
	Account, User string
	Root          bool
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if s, ok := c.sessions.get(r); ok && s.stage == stageDone {
		http.Redirect(w, r, "/console/databases", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin.html", page{Title: "Sign in", Data: signInForm{Account: c.cfg.AccountID}})
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
	source, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		source = r.RemoteAddr
	}
	userKey, sourceKey := "user:"+strings.ToLower(account)+"/"+strings.ToLower(user), "source:"+source
	if root {
		userKey = "root:" + strings.ToLower(account)
	}
	if d := c.throttle.delay(userKey, sourceKey); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	var login Login
	var ok bool
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
		c.throttle.failed(userKey, sourceKey)
		c.cfg.Log.Info("console: sign-in failed", "account", account, "user", user, "source", source)
		c.render(w, r, http.StatusUnauthorized, "signin.html", page{Title: "Sign in", Error: badSignIn, Data: form})
		return
	}
	c.throttle.succeeded(userKey)
	if login.HardExpired {
		c.cfg.Log.Info("console: sign-in refused, password expired", "principal", login.Principal.ARN, "source", source)
		c.render(w, r, http.StatusForbidden, "signin.html", page{Title: "Sign in", Data: form,
			Error: "Your password has expired. Ask your administrator to reset it."})
		return
	}
	s := &session{principal: login.Principal, user: user, stage: stageDone, reset: login.ResetRequired}
	next := "/console/databases"
	switch {
	case login.MFARequired:
		s.stage, next = stageMFA, "/console/mfa"
	case login.ResetRequired:
		s.stage, next = stageReset, "/console/password"
	}
	c.sessions.end(w, r) // a new session id at every sign-in: no fixation
	c.sessions.start(w, r, s)
	c.cfg.Log.Info("console: signed in", "principal", login.Principal.ARN, "source", source, "next", next)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) mfaPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "mfa.html", page{Title: "Multi-factor authentication"})
}

func (c *Console) mfa(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionFrom(r.Context())
	key := "mfa:" + s.principal.ARN
	if d := c.throttle.delay(key); d > 0 {
		time.Sleep(d)
	}
	ok, err := c.cfg.Auth.CheckMFA(r.Context(), s.user, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil || !ok {
		if err != nil {
			c.cfg.Log.Error("console: mfa", "err", err)
		}
		c.throttle.failed(key)
		c.render(w, r, http.StatusUnauthorized, "mfa.html", page{Title: "Multi-factor authentication", Error: "The code is not right. Enter the current code from your MFA device."})
		return
	}
	c.throttle.succeeded(key)
	s.principal.MFA = true // aws:MultiFactorAuthPresent in this session's requests
	s.stage = stageDone
	if s.reset {
		s.stage = stageReset
		http.Redirect(w, r, "/console/password", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/databases", http.StatusSeeOther)
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "password.html", page{Title: "Choose a new password"})
}

func (c *Console) password(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionFrom(r.Context())
	old, nw, again := r.PostFormValue("old"), r.PostFormValue("new"), r.PostFormValue("again")
	if nw != again {
		c.render(w, r, http.StatusBadRequest, "password.html", page{Title: "Choose a new password", Error: "The new passwords do not match."})
		return
	}
	if err := c.cfg.Auth.ChangePassword(r.Context(), s.user, old, nw); err != nil {
		c.render(w, r, http.StatusBadRequest, "password.html", page{Title: "Choose a new password", Error: c.errorText(err)})
		return
	}
	s.reset, s.stage = false, stageDone
	c.redirect(w, r, "/console/databases", "Your password was changed.")
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	c.sessions.end(w, r)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}
