package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/borealis-db/borealis/internal/principal"
)

// cookieName holds the session token. The token is random; the server keeps only its
// SHA-256, so a leaked session table does not leak sessions.
const cookieName = "borealis-console"

// stage is how far a sign-in has got: a session is usable only when done.
type stage int

const (
	stageMFA   stage = iota + 1 // password right, a TOTP code is due
	stageReset                  // password right, a new password is due
	stageDone
)

type session struct {
	principal principal.Principal
	user      string // the IAM user name, for MFA and password changes
	stage     stage
	created   time.Time
	seen      time.Time
	reset     bool // after the MFA code, a new password is still due
	// A notice or error for the next page, after a form's redirect.
	notice, errText string
}

// sessions lives in memory: a restart of serve signs everyone out, which is the safe
// direction.
type sessions struct {
	now       func() time.Time
	ttl, idle time.Duration
	mu        sync.Mutex
	byHash    map[[32]byte]*session
}

func newSessions(now func() time.Time, ttl, idle time.Duration) *sessions {
	return &sessions{now: now, ttl: ttl, idle: idle, byHash: map[[32]byte]*session{}}
}

// start makes a session and sets its cookie.
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, s *session) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := ss.now()
	s.created, s.seen = now, now
	ss.mu.Lock()
	ss.gcLocked(now)
	ss.byHash[sha256.Sum256([]byte(token))] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/console/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// get returns the request's live session.
func (ss *sessions) get(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	h := sha256.Sum256([]byte(ck.Value))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byHash[h]
	if !ok {
		return nil, false
	}
	if now.Sub(s.created) > ss.ttl || now.Sub(s.seen) > ss.idle {
		delete(ss.byHash, h)
		return nil, false
	}
	s.seen = now
	return s, true
}

// end forgets the request's session and clears its cookie.
func (ss *sessions) end(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		ss.mu.Lock()
		delete(ss.byHash, sha256.Sum256([]byte(ck.Value)))
		ss.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

func (ss *sessions) gcLocked(now time.Time) {
	for h, s := range ss.byHash {
		if now.Sub(s.created) > ss.ttl || now.Sub(s.seen) > ss.idle {
			delete(ss.byHash, h)
		}
	}
}

type sessionKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func sessionFrom(ctx context.Context) (*session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*session)
	return s, ok
}

// flash keeps a message for the session's next page.
func (ss *sessions) flash(s *session, notice, errText string) {
	ss.mu.Lock()
	s.notice, s.errText = notice, errText
	ss.mu.Unlock()
}

// takeFlash returns and forgets the session's message.
func (ss *sessions) takeFlash(s *session) (notice, errText string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	notice, errText = s.notice, s.errText
	s.notice, s.errText = "", ""
	return notice, errText
}
