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

// A browser opening "/" lands on the console; an API request to "/" is still an API
// request, and without a signature gets AWS's error.
func TestBrowserAtRootIsSentToTheConsole(t *testing.T) {
	h := New(Config{Region: "us-east-1", Log: slog.New(slog.DiscardHandler), BrowserHome: "/console/"})
	browser := httptest.NewRequest(http.MethodGet, "/", nil)
	browser.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, browser)
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/console/" {
		t.Fatalf("browser at /: %d to %q, want 302 to /console/", w.Code, w.Header().Get("Location"))
	}
	for name, r := range map[string]*http.Request{
		"unsigned API GET": httptest.NewRequest(http.MethodGet, "/?Action=DescribeDBClusters&Version=2014-10-31", nil),
		"curl":             httptest.NewRequest(http.MethodGet, "/", nil),
		"form POST":        httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribeDBClusters")),
	} {
		r.Header.Set("Accept", "text/html")
		if name == "curl" {
			r.Header.Set("Accept", "*/*")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if body, _ := io.ReadAll(w.Result().Body); w.Code != http.StatusForbidden || !strings.Contains(string(body), "MissingAuthenticationToken") {
			t.Errorf("%s: %d %s, want 403 MissingAuthenticationToken", name, w.Code, body)
		}
	}
}
