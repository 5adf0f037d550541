package backup

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Root's pgBackRest starts its PostgreSQL-side remote through the cmd-ssh wrapper with
// its own descriptors open (pgBackRest 2.45 opens its lock files without close-on-exec:
// a backup's remote held root's archive and backup locks). The remote runs as the
// account, which may take any descriptor of its own processes (pidfd_getfd, ptrace): it
// would hold root's locks on its stanza after root's command ended (no expire, no
// stanza-delete) and write root's files. The wrapper hands the account stdin, stdout and
// stderr alone.
func TestPGRemoteGetsNoDescriptorOfRoots(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := lookupAccount("nobody"); err != nil {
		t.Skip(err)
	}
	s3, err := ReadS3Config(writeS3Config(t, fullS3Config, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	root := runnableDir(t)
	m, err := New(testLogger(), Options{Root: filepath.Join(root, "repo"), KeyFile: filepath.Join(root, "key"), S3: s3, RelayCommand: []string{relayBinary(t, root), relayArg}})
	if err != nil {
		t.Fatal(err)
	}
	// Root's open files, as pgBackRest leaves them to its children: small numbers and large.
	var extra []*os.File
	for i := 0; i < 12; i++ {
		f, err := os.OpenFile(filepath.Join(m.rootWorkPath("x"), "lock"), os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			if err := os.MkdirAll(m.rootWorkPath("x"), 0o700); err != nil {
				t.Fatal(err)
			}
			if f, err = os.OpenFile(filepath.Join(m.rootWorkPath("x"), "lock"), os.O_WRONLY|os.O_CREATE, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		defer f.Close()
		extra = append(extra, f)
	}
	// As pgBackRest calls it: ssh options, then ACCOUNT@HOST, then the remote's command.
	cmd := osexec.Command(m.sshPath(), "-o", "LogLevel=error", "-o", "Compression=no", "nobody@localhost",
		"ls -l /proc/self/fd")
	cmd.ExtraFiles = extra
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the wrapper: %v: %s", err, out)
	}
	var fds []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 9 || strings.HasPrefix(l, "total") {
			continue
		}
		if strings.HasPrefix(f[len(f)-1], "/proc/") { // ls's own, on /proc/self/fd
			continue
		}
		fds = append(fds, f[8]+" -> "+f[len(f)-1])
	}
	sort.Strings(fds)
	for _, fd := range fds {
		n := strings.Fields(fd)[0]
		if n != "0" && n != "1" && n != "2" {
			t.Errorf("the remote, as the account, holds root's descriptor %s", fd)
		}
	}
}
