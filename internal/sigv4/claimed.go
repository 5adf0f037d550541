package sigv4

import "net/http"

// ClaimedAccessKey returns the access key id a request says it is signed with, whether or
// not the signature holds: for recording a refused request. "" when there is none.
func ClaimedAccessKey(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if auth := r.Header.Get("Authorization"); auth != "" {
		h, err := parseAuthorization(auth)
		if err != nil {
			return ""
		}
		cred = h.credential
	}
	s, err := parseCredential(cred)
	if err != nil {
		return ""
	}
	return s.accessKeyID
}
