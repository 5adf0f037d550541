package engine

import (
	"strings"
	"testing"
)

// Where WAL is archived is Borealis' alone: the archive settings come from Spec.Archive, and
// neither a parameter group nor ALTER SYSTEM may set them.
func TestArchiveSettingsAreManaged(t *testing.T) {
	s := Spec{Name: "db1", ListenAddr: "127.0.0.2", Port: 5433, SocketDir: "/run/b",
		Archive: map[string]string{"archive_mode": "on", "archive_command": "pgbackrest archive-push %p", "archive_timeout": "60s"}}
	got := renderConf(s)
	for _, want := range []string{"archive_mode = 'on'\n", "archive_command = 'pgbackrest archive-push %p'\n", "archive_timeout = '60s'\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("borealis.conf lacks %q:\n%s", want, got)
		}
	}
	for _, name := range []string{"archive_command", "archive_mode", "restore_command", "archive_library"} {
		if !managed[name] {
			t.Errorf("%s is not managed: a parameter group or ALTER SYSTEM could send WAL elsewhere", name)
		}
	}
	auto := []byte("archive_command = 'cp %p /tmp/%f'\nwork_mem = '8MB'\n")
	out, dropped := scrubAutoConf(auto)
	if strings.Contains(string(out), "archive_command") || len(dropped) != 1 {
		t.Errorf("ALTER SYSTEM's archive_command survives: %q (dropped %v)", out, dropped)
	}
}
