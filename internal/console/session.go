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

// session is one browser's sign-in. The fields after mu's comment change while requests
// run and are read and written under sessions.mu only; a request works on the current
// snapshot that get took.
type session struct {
	user    string // the IAM user name, for MFA and password changes
	created time.Time
	// Guarded by sessions.mu:
	principal principal.Principal
	stage     stage
	seen      time.Time
	// verified is when the session last proved the password (sign-in, or a change through
	// the console): a password set after it, by anyone else, ends the session.
	verified time.Time
	reset    bool // after the MFA code, a new password is still due
	mfaTries int  // MFA codes tried, counted before they are checked
	// A notice or error for the next page, after a form's redirect.
	notice, errText string
	// role is the role session the console runs as after "switch role" (nil: the signed-in
	// principal itself).
	role *roleCreds
}

// roleCreds are a switched-to role session's credentials, kept in memory only: the key id
// and session token prove the session to IAM on every request (its secret is not kept).
type roleCreds struct {
	keyID, token string
}

// current is a request's view of its session, taken under the lock when the request
// starts.
type current struct {
	s         *session
	principal principal.Principal
	stage     stage
	user      string
	verified  time.Time
	role      *roleCreds
	// signedIn is the signed-in principal's ARN while the console runs as a role session.
	signedIn string
}

const (
	// pendingTTL bounds the steps between a right password and a finished sign-in.
	pendingTTL = 10 * time.Minute
	// maxMFACodes wrong codes end a pending session: the password is needed again.
	maxMFACodes = 5
)

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
	if s.verified.IsZero() {
		s.verified = now
	}
	ss.mu.Lock()
	ss.gcLocked(now)
	ss.byHash[sha256.Sum256([]byte(token))] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/console/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// get returns the request's live session.
func (ss *sessions) get(r *http.Request) (current, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return current{}, false
	}
	h := sha256.Sum256([]byte(ck.Value))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byHash[h]
	if !ok {
		return current{}, false
	}
	if ss.expiredLocked(s, now) {
		delete(ss.byHash, h)
		return current{}, false
	}
	s.seen = now
	return current{s: s, principal: s.principal, stage: s.stage, user: s.user, verified: s.verified, role: s.role}, true
}

func (ss *sessions) expiredLocked(s *session, now time.Time) bool {
	return now.Sub(s.created) > ss.ttl || now.Sub(s.seen) > ss.idle ||
		s.stage != stageDone && now.Sub(s.created) > pendingTTL
}

// tryMFA counts a code attempt against a pending session before the code is checked, so
// that codes sent in parallel count as well; false once the session has had its tries.
func (ss *sessions) tryMFA(s *session) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s.stage != stageMFA || s.mfaTries >= maxMFACodes {
		return false
	}
	s.mfaTries++
	return true
}

// mfaDone finishes the MFA step: the session's requests now carry
// aws:MultiFactorAuthPresent. It says where the user goes next; false if the session is no
// longer at this step.
func (ss *sessions) mfaDone(s *session) (next stage, ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s.stage != stageMFA {
		return 0, false
	}
	s.principal.MFA = true
	s.stage = stageDone
	if s.reset {
		s.stage = stageReset
	}
	return s.stage, true
}

// mfaFailed reports, after a wrong code, whether the pending session has used its tries
// and must end.
func (ss *sessions) mfaFailed(s *session) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return s.stage == stageMFA && s.mfaTries >= maxMFACodes
}

// passwordChanged finishes a required reset: the new password is this session's proof.
func (ss *sessions) passwordChanged(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.reset, s.stage, s.verified = false, stageDone, ss.now()
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
		if ss.expiredLocked(s, now) {
			delete(ss.byHash, h)
		}
	}
}

type sessionKey struct{}

func withSession(ctx context.Context, cur current) context.Context {
	return context.WithValue(ctx, sessionKey{}, cur)
}

func sessionFrom(ctx context.Context) (current, bool) {
	cur, ok := ctx.Value(sessionKey{}).(current)
	return cur, ok
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

// switchRole makes the session run as a role session (nil: as the signed-in principal
// again).
func (ss *sessions) switchRole(s *session, rc *roleCreds) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.role = rc
}
