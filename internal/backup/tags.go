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

// tagsArgs are the backup command's options that record tags on the new set. The value is
// base64url JSON: pgBackRest splits key=value at the first '=', and tags may hold any.
func tagsArgs(tags []Tag) []string {
	if len(tags) == 0 {
		return nil
	}
	b, _ := json.Marshal(tags)
	return []string{"--annotation=" + tagsAnnotation + "=" + base64.RawURLEncoding.EncodeToString(b)}
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
