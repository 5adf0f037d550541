package backup

import (
	"encoding/base64"
	"encoding/json"
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
// the '=' nor the ':' that separate keys, values and pairs there.
func annotationEnv(kind Kind, tags []Tag) string {
	v := "PGBACKREST_ANNOTATION=" + kindAnnotation + "=" + string(kind)
	if len(tags) > 0 {
		b, _ := json.Marshal(tags)
		v += ":" + tagsAnnotation + "=" + base64.RawURLEncoding.EncodeToString(b)
	}
	return v
}

// setTags reads a set's tags from its annotations; none when absent or unreadable.
func setTags(annotations map[string]string) []Tag {
	raw, ok := annotations[tagsAnnotation]
	if !ok {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	var tags []Tag
	if json.Unmarshal(b, &tags) != nil {
		return nil
	}
	return tags
}
