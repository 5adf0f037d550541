package backup

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Tag is one tag an automated backup carries: its cluster's, copied when the backup was
// taken (CopyTagsToSnapshot), so that its automated snapshot keeps the tags of its day.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// tagsAnnotation names the pgBackRest annotation holding a set's tags: they live in the
// repository with the set, written in the same step, and go when it is expired.
const tagsAnnotation = "borealis-tags"

// kindAnnotation names the annotation telling automated backups from snapshots.
const kindAnnotation = "borealis-kind"

// annotationEnv is the backup command's annotations, kind and tags, as pgBackRest's
// environment option: a process's environment is its own user's to read, its command line
// any host user's, and tags are the tenant's. The tags are base64url JSON, holding neither
// the '=' nor the ':' that separate keys, values and pairs there, then '.' and their MAC:
// the cluster's account writes its repository (pgbackrest annotate) and must not choose the
// tags IAM reads (rds:cluster-snapshot-tag).
func (m *Manager) annotationEnv(kind Kind, resourceID string, tags []Tag) string {
	v := "PGBACKREST_ANNOTATION=" + kindAnnotation + "=" + string(kind)
	if len(tags) > 0 {
		b, _ := json.Marshal(tags)
		enc := base64.RawURLEncoding.EncodeToString([]byte(unescapeSeparators.Replace(string(b))))
		v += ":" + tagsAnnotation + "=" + enc + "." + m.tagsMAC(resourceID, enc)
	}
	return v
}

// unescapeSeparators writes U+2028 and U+2029, which tags may hold (white space) and
// encoding/json escapes in six bytes, as themselves (three, valid JSON): 50 tags of them
// would otherwise not fit in one environment string (128 KiB), and the backup would fail.
// A tag's own backslash (escaped, two) is matched first, so its "\\u2028" text stays.
var unescapeSeparators = strings.NewReplacer(`\\`, `\\`, `\u2028`, "\u2028", `\u2029`, "\u2029")

// tagsMAC authenticates the encoded tags of a set of the cluster with resource id, under a
// key of the installation's that no cluster's account holds. A tenant can still move its
// own sets' genuine tags from one of its sets to another: all were its cluster's tags once.
func (m *Manager) tagsMAC(resourceID, enc string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte("borealis backup tags " + resourceID + " " + enc))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// setTags reads the tags of a set of the cluster with resource id from its annotations;
// none when absent, unreadable, or not written by Borealis.
func (m *Manager) setTags(resourceID string, annotations map[string]string) []Tag {
	enc, mac, ok := strings.Cut(annotations[tagsAnnotation], ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(m.tagsMAC(resourceID, enc))) {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil
	}
	var tags []Tag
	if json.Unmarshal(b, &tags) != nil {
		return nil
	}
	return tags
}
