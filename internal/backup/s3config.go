package backup

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// S3 configuration file (serve --backup-s3-config, docs/backups.md): "name = value" lines,
// '#' comments. It holds the keys, so it must be 0600 (or stricter) like every secret file.
const (
	s3Endpoint  = "endpoint"
	s3Bucket    = "bucket"
	s3Region    = "region"
	s3KeyID     = "access_key_id"
	s3Secret    = "secret_access_key"
	s3Path      = "path"       // optional: repositories go below this path in the bucket
	s3URIStyle  = "uri_style"  // optional: host (default) or path
	s3VerifyTLS = "verify_tls" // optional: y (default) or n
	s3CAFile    = "ca_file"    // optional: the endpoint's CA bundle
)

var s3Required = []string{s3Endpoint, s3Bucket, s3Region, s3KeyID, s3Secret}

// ReadS3Config reads an S3 configuration file and returns the repository it names, with
// the file itself as its CredentialsFile. Errors name the file and the setting, never a
// value (the secret must not reach a log).
func ReadS3Config(path string) (*S3, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("backup: S3 configuration: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("backup: S3 configuration %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("backup: S3 configuration %s is mode %v: it holds a secret key, want 0600 (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backup: S3 configuration: %w", err)
	}
	v := map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		switch name {
		case s3Endpoint, s3Bucket, s3Region, s3KeyID, s3Secret, s3Path, s3URIStyle, s3VerifyTLS, s3CAFile:
		default:
			ok = false
		}
		if !ok {
			return nil, fmt.Errorf("backup: S3 configuration %s line %d: want one of %s = value", path, i+1, strings.Join(append(append([]string{}, s3Required...), s3Path, s3URIStyle, s3VerifyTLS, s3CAFile), ", "))
		}
		if _, dup := v[name]; dup {
			return nil, fmt.Errorf("backup: S3 configuration %s: %s is set twice", path, name)
		}
		v[name] = val
	}
	var missing []string
	for _, k := range s3Required {
		if v[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("backup: S3 configuration %s lacks %s", path, strings.Join(missing, ", "))
	}
	s := &S3{Endpoint: v[s3Endpoint], Bucket: v[s3Bucket], Region: v[s3Region], Prefix: v[s3Path], CAFile: v[s3CAFile], CredentialsFile: path}
	switch v[s3URIStyle] {
	case "", "host", "path":
		s.URIStyle = v[s3URIStyle]
	default:
		return nil, fmt.Errorf("backup: S3 configuration %s: uri_style must be host or path", path)
	}
	switch v[s3VerifyTLS] {
	case "", "y", "yes", "true":
	case "n", "no", "false":
		s.NoVerifyTLS = true
	default:
		return nil, fmt.Errorf("backup: S3 configuration %s: verify_tls must be y or n", path)
	}
	// pgBackRest's configuration is line-based: a value must not start another setting.
	for _, k := range []string{s3Endpoint, s3Bucket, s3Region, s3Path, s3CAFile} {
		if strings.ContainsAny(v[k], " \t\r") {
			return nil, fmt.Errorf("backup: S3 configuration %s: %s must not contain spaces", path, k)
		}
	}
	if _, err := readS3Keys(s); err != nil {
		return nil, err
	}
	return s, nil
}
