package apiserver

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A Query request whose body is larger than the cap is refused with an AWS error before
// anything reads it whole, as AWS refuses oversized requests.
func TestOversizedQueryBodyIsRefused(t *testing.T) {
	h := New(Config{Region: "us-east-1", Log: slog.New(slog.DiscardHandler), MaxBodyKB: 4})
	body := "Action=DescribeDBClusters&Version=2014-10-31&Filler=" + strings.Repeat("a", 8<<10)
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	got, _ := io.ReadAll(w.Result().Body)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(string(got), "<Code>RequestEntityTooLarge</Code>") {
		t.Fatalf("status %d, body %s; want 413 RequestEntityTooLarge", w.Code, got)
	}
}
