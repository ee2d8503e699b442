package main

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// TestE2EBenchAPI: `riptide bench api` serves the example project, loads
// both endpoints, and every request is answered as the API promises (a
// run's record, 202 for a trigger).
func TestE2EBenchAPI(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(riptideBin(t), "--json", "bench", "api", "--duration", "300ms", "--concurrency", "2").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("bench api: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var res []struct {
		Name     string
		Requests int
		Errors   int
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res) != 2 {
		t.Fatalf("results: %s", out)
	}
	for _, r := range res {
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors", r.Name, r.Requests, r.Errors)
		}
	}
}
