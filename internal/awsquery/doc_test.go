package awsquery

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteErrorHidesInternalDetail(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, "ns", "rid", errString("open /secret/path: permission denied"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "/secret/path") {
		t.Fatalf("internal error leaked or wrong status: %d %s", rec.Code, rec.Body)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
