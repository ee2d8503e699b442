package bench

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestBenchWorkersIndex: River's client ID names a process by hostname and
// pid, with or without a suffix; a pid that is only a prefix of the ID's
// pid is not a match.
func TestBenchWorkersIndex(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	pids := []int{41, 412, 7}
	for id, want := range map[string]int{
		host + "-412":       1,
		host + "-412-a3f0":  1,
		host + "-41-0001":   0,
		host + "-7":         2,
		host + "-4123":      -1,
		host + "-4123-beef": -1,
		"otherhost-7":       -1,
		"":                  -1,
	} {
		if got := WorkerIndex(id, pids); got != want {
			t.Errorf("WorkerIndex(%q) = %d, want %d", id, got, want)
		}
	}
}

// TestBenchWorkersBadPostgresURL: an admin connection that is not a
// postgres:// URL is refused before connecting, without echoing it (it may
// hold a password).
func TestBenchWorkersBadPostgresURL(t *testing.T) {
	for _, u := range []string{"host=127.0.0.1 password=hunter2", "mysql://root:hunter2@127.0.0.1/x", "::"} {
		_, _, _, err := TempPostgres(context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), "--pg") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("TempPostgres(%q): %v", u, err)
		}
	}
}
