package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

type queryError struct {
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
	Type    string `xml:"Error>Type"`
}

// send posts a Query request built by hand and returns the status and the parsed error.
func send(t *testing.T, req *http.Request) (int, queryError, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var qe queryError
	_ = xml.Unmarshal(body, &qe)
	return resp.StatusCode, qe, string(body)
}

func TestSigV4FailuresAreRefusedAndChangeNothing(t *testing.T) {
	t.Parallel()
	srv := shared.get(t)
	keyID, secret := srv.rootKey(t)
	endpoint := "http://" + srv.APIAddr + "/"
	// Each request would create this cluster if it were accepted.
	form := url.Values{"Action": {"CreateDBCluster"}, "Version": {"2014-10-31"}, "DBClusterIdentifier": {"sigv4-victim"},
		"Engine": {"aurora-postgresql"}, "MasterUsername": {"admin1"}, "MasterUserPassword": {"good-password-1"}}.Encode()

	newReq := func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		return req
	}
	sign := func(req *http.Request, id, key string, at time.Time) {
		sum := sha256.Sum256([]byte(form))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: key}, req, hex.EncodeToString(sum[:]), "rds", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name   string
		build  func() *http.Request
		status int
		code   string
	}{
		{"no Authorization header", newReq, 403, "MissingAuthenticationToken"},
		{"not SigV4", func() *http.Request {
			r := newReq()
			r.Header.Set("Authorization", "AWS "+keyID+":c2lnbmF0dXJl")
			return r
		}, 400, "IncompleteSignature"},
		{"no Signature part", func() *http.Request {
			r := newReq()
			r.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyID+"/"+time.Now().UTC().Format("20060102")+"/us-east-1/rds/aws4_request, SignedHeaders=host;x-amz-date")
			return r
		}, 400, "IncompleteSignature"},
		{"malformed credential scope", func() *http.Request {
			r := newReq()
			r.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyID+"/us-east-1/rds, SignedHeaders=host;x-amz-date, Signature=00")
			return r
		}, 400, "IncompleteSignature"},
		{"signed 10 minutes ago", func() *http.Request {
			r := newReq()
			sign(r, keyID, secret, time.Now().Add(-10*time.Minute))
			return r
		}, 400, "RequestExpired"},
		{"signed 10 minutes ahead", func() *http.Request {
			r := newReq()
			sign(r, keyID, secret, time.Now().Add(10*time.Minute))
			return r
		}, 400, "RequestExpired"},
		{"unknown access key", func() *http.Request {
			r := newReq()
			sign(r, "AKIAUNKNOWNKEY000000", secret, time.Now())
			return r
		}, 403, "InvalidClientTokenId"},
		{"wrong secret", func() *http.Request {
			r := newReq()
			sign(r, keyID, secret+"x", time.Now())
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"body changed after signing", func() *http.Request {
			r := newReq()
			sign(r, keyID, secret, time.Now())
			tampered := strings.Replace(form, "sigv4-victim", "sigv4-victin", 1)
			r.Body = io.NopCloser(strings.NewReader(tampered))
			r.ContentLength = int64(len(tampered))
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"scoped to another region", func() *http.Request {
			r := newReq()
			sum := sha256.Sum256([]byte(form))
			v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "rds", "eu-west-1", time.Now())
			return r
		}, 403, "SignatureDoesNotMatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, qe, body := send(t, tc.build())
			if status != tc.status || qe.Code != tc.code {
				t.Fatalf("got %d %s, want %d %s\n%s", status, qe.Code, tc.status, tc.code, body)
			}
			if qe.Type != "Sender" || qe.Message == "" {
				t.Errorf("error envelope: %+v", qe)
			}
			if strings.Contains(body, secret) {
				t.Error("response contains the secret key")
			}
		})
	}

	t.Run("nothing was created", func(t *testing.T) {
		_, err := srv.rds(t).DescribeDBClusters(context.Background(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("sigv4-victim")})
		if code, _ := apiError(t, err); code != "DBClusterNotFoundFault" {
			t.Fatalf("refused request created a cluster: %s", code)
		}
	})

	t.Run("unknown action", func(t *testing.T) {
		body := "Action=LaunchRockets&Version=2014-10-31"
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "rds", "us-east-1", time.Now())
		status, qe, raw := send(t, req)
		if status != 400 || qe.Code != "InvalidAction" {
			t.Fatalf("got %d %s\n%s", status, qe.Code, raw)
		}
	})

	t.Run("trust bundle is served without authentication", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.APIAddr + "/global-bundle.pem")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		want, err := os.ReadFile(srv.bundlePath())
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || string(got) != string(want) || !strings.Contains(string(got), "BEGIN CERTIFICATE") {
			t.Fatalf("bundle: %d, %d bytes, file %d bytes", resp.StatusCode, len(got), len(want))
		}
	})
}
