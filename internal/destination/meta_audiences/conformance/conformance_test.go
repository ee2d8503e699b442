// Package conformance proves that the metaaudiencestest emulator speaks the
// Marketing API's Custom Audience users endpoint and the ad account's
// customaudiences edge: it drives Meta's official
// Node.js Business SDK (facebook-nodejs-business-sdk, pinned in
// package-lock.json) against the emulator.
package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/destination/meta_audiences/metaaudiencestest"
)

func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func TestOfficialClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, "node is not installed (%v); install Node.js to run the official-client test", err)
	}
	if _, err := os.Stat("node_modules/facebook-nodejs-business-sdk"); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("node_modules is missing; run `npm ci` in internal/destination/meta_audiences/conformance to run this test")
		}
		out, err := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s, err := metaaudiencestest.New(
		metaaudiencestest.WithAudience("23850000000000002", "Site visitors", "WEBSITE"),
		metaaudiencestest.WithAudience("23850000000000003", "Newsletter", "CUSTOM"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), node, "official_client.mjs")
	cmd.Env = append(os.Environ(), "META_BASE_URL="+s.URL(), "META_TOKEN="+s.Token(), "META_AUDIENCE="+s.Audience(),
		"META_AD_ACCOUNT="+s.AdAccount(),
		"META_WANT_AUDIENCES="+s.Audience()+":Emulator customers:CUSTOM,23850000000000002:Site visitors:WEBSITE,23850000000000003:Newsletter:CUSTOM")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("official SDK against the emulator: %v\n%s", err, out)
	}
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	if !s.Has(s.Audience(), "EMAIL", hash("ann@example.com")) || s.Has(s.Audience(), "EMAIL", hash("bob@example.com")) {
		t.Errorf("end state after the SDK's calls: %v", s.Members(s.Audience()))
	}
}
