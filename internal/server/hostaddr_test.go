package server

import "testing"

// The console's hostaddr is where the endpoints listen, reachable from this host.
func TestHostaddr(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"127.0.0.1", "::1"}, "127.0.0.1"},
		{[]string{"10.1.2.3"}, "10.1.2.3"},
		{[]string{"::1"}, "::1"},
		{[]string{"0.0.0.0"}, "127.0.0.1"},
		{[]string{"::"}, "::1"},
		{[]string{"bogus", "192.0.2.7"}, "192.0.2.7"},
		{nil, ""},
	} {
		if got := hostaddr(tc.in); got != tc.want {
			t.Errorf("hostaddr(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
