package backup

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const testS3Secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"

func writeS3Config(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s3.conf")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

const fullS3Config = `# the backup bucket
endpoint = s3.example.test:9000
bucket = borealis-backups
region = us-east-1
access_key_id = AKIAEXAMPLE
secret_access_key = ` + testS3Secret + `
path = /site-a
uri_style = path
verify_tls = n
`

// serve refuses an S3 configuration that others may read, or that lacks a setting, and
// never with the secret in its error.
func TestS3ConfigRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		body string
		mode os.FileMode
		want string
	}{
		"readable by group":   {fullS3Config, 0o640, "want 0600"},
		"readable by others":  {fullS3Config, 0o604, "want 0600"},
		"no secret":           {strings.Replace(fullS3Config, "secret_access_key", "#", 1), 0o600, "lacks secret_access_key"},
		"no endpoint, bucket": {"region=x\naccess_key_id=a\nsecret_access_key=" + testS3Secret + "\n", 0o600, "lacks bucket, endpoint"},
		"unknown setting":     {fullS3Config + "secret=" + testS3Secret + "\n", 0o600, "line 10"},
		"a line without =":    {fullS3Config + testS3Secret + "\n", 0o600, "line 10"},
		"set twice":           {fullS3Config + "bucket=other\n", 0o600, "bucket is set twice"},
		"bad uri style":       {strings.Replace(fullS3Config, "uri_style = path", "uri_style = virtual", 1), 0o600, "uri_style must be host or path"},
		"bad verify_tls":      {strings.Replace(fullS3Config, "verify_tls = n", "verify_tls = maybe", 1), 0o600, "verify_tls must be y or n"},
		"a space in a value":  {strings.Replace(fullS3Config, "bucket = borealis-backups", "bucket = a repo1-path=/x", 1), 0o600, "bucket must not contain spaces"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadS3Config(writeS3Config(t, c.body, c.mode))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadS3Config: %v, want an error with %q", err, c.want)
			}
			if strings.Contains(err.Error(), testS3Secret) {
				t.Fatalf("the error carries the secret: %v", err)
			}
		})
	}
	if _, err := ReadS3Config(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// The bucket's settings and keys go into root's configuration for the cluster (0600,
// root's); the cluster's own configuration (0640, root's, the cluster's group) has no
// repository and no key.
func TestS3ConfigRendersIntoTheClusterConfiguration(t *testing.T) {
	path := writeS3Config(t, fullS3Config, 0o600)
	s3, err := ReadS3Config(path)
	if err != nil {
		t.Fatal(err)
	}
	if *s3 != (S3{Endpoint: "s3.example.test:9000", Bucket: "borealis-backups", Region: "us-east-1", Prefix: "/site-a", URIStyle: "path", NoVerifyTLS: true, CredentialsFile: path}) {
		t.Fatalf("parsed %+v", *s3)
	}
	root := t.TempDir()
	m, err := New(testLogger(), Options{Root: root, KeyFile: filepath.Join(root, "key"), S3: s3, RelayCommand: []string{"/bin/false"}})
	if err != nil {
		t.Fatal(err)
	}
	osUser := ""
	if os.Geteuid() == 0 {
		osUser = "nobody"
	}
	c := Cluster{ResourceID: "cluster-S3TEST", OSUser: osUser, VolumeDir: t.TempDir()}
	os.Chmod(c.VolumeDir, 0o755)
	a, err := lookupAccount(osUser)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.writeConf(c, a, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(m.rootConfPath(c.ResourceID))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repo1-type=s3\n", "repo1-s3-bucket=borealis-backups\n", "repo1-s3-endpoint=s3.example.test:9000\n",
		"repo1-s3-region=us-east-1\n", "repo1-s3-uri-style=path\n", "repo1-s3-key=AKIAEXAMPLE\n", "repo1-s3-key-secret=" + testS3Secret + "\n",
		"repo1-storage-verify-tls=n\n", "repo1-path=/site-a/cluster-S3TEST\n", "repo1-cipher-type=aes-256-cbc\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("configuration lacks %q:\n%s", want, b)
		}
	}
	if fi, err := os.Stat(m.rootConfPath(c.ResourceID)); err != nil || fi.Mode().Perm() != 0o600 || statUID(fi) != os.Geteuid() {
		t.Errorf("root's configuration: %v, %v; want 0600, ours", fi, err)
	}
	own, err := os.ReadFile(confPath(c))
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"repo1-", "AKIAEXAMPLE", testS3Secret, m.cipherPass(c.ResourceID)} {
		if strings.Contains(string(own), leak) {
			t.Errorf("the cluster's configuration carries %q:\n%s", leak, own)
		}
	}
	fi, err := os.Stat(confPath(c))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("configuration mode %v, want 0640", fi.Mode().Perm())
	}
	if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 0 || int(st.Gid) != a.gid) {
		t.Errorf("configuration owned by %d:%d, want root and the cluster's group %d", st.Uid, st.Gid, a.gid)
	}
	// Made readable by others later, the file is refused at the next configuration.
	os.Chmod(path, 0o644)
	if err := m.writeConf(c, a, nil); err == nil || strings.Contains(err.Error(), testS3Secret) {
		t.Errorf("writeConf with a world-readable S3 file: %v", err)
	}
}
