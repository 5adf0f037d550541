package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// trailRecord is what a data-plane test reads of a CloudTrail record.
type trailRecord struct {
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	EventType           string         `json:"eventType"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	ErrorCode           string         `json:"errorCode"`
	ErrorMessage        string         `json:"errorMessage"`
	AdditionalEventData map[string]any `json:"additionalEventData"`
}

// lookupEventsCLI runs `aws cloudtrail lookup-events` for one event name against serve,
// with the root key, and returns the raw output and the records.
func lookupEventsCLI(t *testing.T, srv *server, eventName string) (string, []trailRecord) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	cmd := exec.Command("aws", "cloudtrail", "lookup-events", "--endpoint-url", "http://"+srv.APIAddr, "--region", "us-east-1", "--output", "json",
		"--lookup-attributes", "AttributeKey=EventName,AttributeValue="+eventName)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(srv.DataDir, "credentials"), "AWS_CONFIG_FILE=/dev/null", "AWS_PROFILE=default")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws cloudtrail lookup-events: %v\n%s", err, out)
	}
	var res struct {
		Events []struct{ CloudTrailEvent string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("aws cloudtrail lookup-events: %v\n%s", err, out)
	}
	var recs []trailRecord
	for _, e := range res.Events {
		var r trailRecord
		if err := json.Unmarshal([]byte(e.CloudTrailEvent), &r); err != nil {
			t.Fatalf("CloudTrailEvent %s: %v", e.CloudTrailEvent, err)
		}
		recs = append(recs, r)
	}
	return string(out), recs
}

// assertIAMRefusalsInTrail: each refused IAM login left an rds-db connect event with its
// reason, its client and its database user, and no token (nor any half of a signature)
// is in the lookup's answer or anywhere in the trail's files.
func assertIAMRefusalsInTrail(t *testing.T, srv *server, tokens []string, reasons ...string) {
	t.Helper()
	raw, recs := lookupEventsCLI(t, srv, "connect")
	seen := map[string]bool{}
	for _, r := range recs {
		if r.EventSource != "rds-db.amazonaws.com" || r.EventType != "AwsServiceEvent" || r.SourceIPAddress != "127.0.0.1" || r.AdditionalEventData["dbUser"] == nil {
			t.Errorf("connect event %+v: want rds-db.amazonaws.com, an AwsServiceEvent from 127.0.0.1 with its database user", r)
		}
		seen[r.ErrorCode] = true
	}
	for _, reason := range reasons {
		if !seen[reason] {
			t.Errorf("no connect event with reason %s in the trail (reasons: %v)", reason, seen)
		}
	}
	files, _ := filepath.Glob(filepath.Join(srv.DataDir, "audit", "*"))
	trailText := raw
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			trailText += string(b)
		}
	}
	for _, tok := range tokens {
		parts := []string{tok}
		if _, sig, ok := strings.Cut(tok, "X-Amz-Signature="); ok {
			parts = append(parts, sig[:len(sig)/2], sig[len(sig)/2:])
		}
		for _, p := range parts {
			if strings.Contains(trailText, p) {
				t.Errorf("the trail holds %q of a token", p)
			}
		}
	}
}

// assertRefusedInTrail: within a drain interval (30 s) of connections from source refused
// by endpoint name's security groups, the trail has a counted event for them, naming
// groups.
func assertRefusedInTrail(t *testing.T, srv *server, source, name string, groups ...string) {
	t.Helper()
	var last []trailRecord
	eventually(t, 45*time.Second, "a ConnectionRefused event from "+source, func() (bool, error) {
		_, last = lookupEventsCLI(t, srv, "ConnectionRefused")
		for _, r := range last {
			if r.SourceIPAddress != source || r.AdditionalEventData["endpoint"] != name {
				continue
			}
			n, _ := r.AdditionalEventData["count"].(float64)
			for _, g := range groups {
				if !strings.Contains(r.ErrorMessage, g) {
					return false, nil
				}
			}
			return r.EventSource == "rds-db.amazonaws.com" && n >= 1, nil
		}
		return false, nil
	})
}
