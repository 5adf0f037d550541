package console

import (
	"net/url"
	"testing"
)

// The restore form's time is UTC, with or without seconds; "latest" asks for the latest
// restorable time; anything else is refused before any call.
func TestRestoreTime(t *testing.T) {
	for _, c := range []struct {
		form url.Values
		want url.Values
	}{
		{url.Values{"when": {"latest"}, "time": {"junk"}}, url.Values{"UseLatestRestorableTime": {"true"}}},
		{url.Values{"when": {"custom"}, "time": {"2026-12-05T06:30"}}, url.Values{"RestoreToTime": {"2026-12-05T06:30:00Z"}}},
		{url.Values{"when": {"custom"}, "time": {"2026-12-05T06:30:15"}}, url.Values{"RestoreToTime": {"2026-12-05T06:30:15Z"}}},
		{url.Values{"when": {"custom"}, "time": {"yesterday"}}, nil},
		{url.Values{"when": {"custom"}}, nil},
	} {
		got, ok := restoreTime(c.form)
		if ok != (c.want != nil) || got.Encode() != c.want.Encode() {
			t.Errorf("%v: %v %v, want %v", c.form, got, ok, c.want)
		}
	}
}
