package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// deviceCookie marks a browser where a user's password was right before. Its attempts for
// that user are throttled under their own key rather than the user's, so a stranger
// guessing a user's password from many addresses cannot keep the owner out of their own
// browser (OWASP's device cookies). The cookie names no user and proves nothing by
// itself: it only chooses which throttle key counts, and the password is still checked.
const deviceCookie = "borealis-console-device"

// deviceLife is how long a browser stays known.
const deviceLife = 30 * 24 * time.Hour

// devices issues and checks device cookies, MACed with a key that lives as long as serve.
type devices struct{ key [32]byte }

func newDevices() *devices {
	d := &devices{}
	_, _ = rand.Read(d.key[:])
	return d
}

func (d *devices) mac(id, userKey string) string {
	m := hmac.New(sha256.New, d.key[:])
	m.Write([]byte(id + "\x00" + userKey))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue marks the browser as one where userKey signed in.
func (d *devices) issue(w http.ResponseWriter, r *http.Request, userKey string) {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: id + "." + d.mac(id, userKey), Path: "/console/",
		MaxAge: int(deviceLife / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// verify returns the browser's device id if it signed in as userKey before.
func (d *devices) verify(r *http.Request, userKey string) (string, bool) {
	ck, err := r.Cookie(deviceCookie)
	if err != nil {
		return "", false
	}
	id, mac, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(d.mac(id, userKey))) {
		return "", false
	}
	return id, true
}
