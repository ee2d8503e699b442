package file

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/destinationtest"
)

// TestAcceptanceSuite runs the shared scenarios on a directory: each run's
// file appears when the run ends, and what the files hold, read in the
// order the runs wrote them, is what the destination holds.
func TestAcceptanceSuite(t *testing.T) {
	id := func(i int) string { return fmt.Sprint(i + 1) }
	rec := func(key string) connector.Record {
		return connector.Record{Op: connector.OpUpsert, Key: key, KeyParts: []string{key},
			Fields: []connector.FieldValue{{Name: "email", Value: "u" + key + "@example.com"}, {Name: "plan", Value: "pro"}}}
	}
	passed := destinationtest.Run(t, destinationtest.Harness{
		Plugin: Plugin(),
		Start: func(t *testing.T) destinationtest.Emulator {
			dir := t.TempDir()
			return destinationtest.Emulator{
				Settings: connector.Settings{"path": dir, "format": formatJSONL},
				Held:     func() map[string]bool { return held(t, dir) },
			}
		},
		Target: connector.Target{Fields: []string{"email", "plan"}, PrimaryKey: []string{"id"}},
		Record: func(i int) connector.Record { return rec(id(i)) },
		// A record without the mapped field plan cannot be written as a
		// row of the file, and is refused alone.
		Bad: func(int) connector.Record {
			r := rec("bad")
			r.Fields = r.Fields[:1]
			return r
		},
		ID: id,
		Skip: map[string]string{
			"429 storm":       "file: writes go to a local file, which has no rate limit to throttle them",
			"5xx":             "file: there is no server to fail; a failed write (a full disk) fails the run's file, which is never published (TestFailedWriteIsNotPublished)",
			"auth revoked":    "file: there are no credentials; access is the file system's, checked when the directory is created",
			"oversized batch": "file: a batch is appended to a file, with no request whose size could be refused",
		},
	})
	// A file takes every record it is given and fails only at Close: the
	// scenarios about a vendor's answers do not apply (skipped above).
	if want := []string{"first sync", "update", "delete", "row refused"}; !slices.Equal(passed, want) {
		t.Errorf("scenarios passed: %q, want %q", passed, want)
	}
}

// held folds the directory's JSON Lines files, oldest run first: a key is
// held when its last line is not a delete. Only published files count;
// a run's hidden temporary file is not part of what the directory holds.
func held(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		path string
		mod  int64
	}
	var runs []run
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{f, st.ModTime().UnixNano()})
	}
	slices.SortFunc(runs, func(a, b run) int { return int(a.mod - b.mod) })
	out := map[string]bool{}
	for _, r := range runs {
		f, err := os.Open(r.path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var line struct{ Op, Key string }
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %q: %v", r.path, sc.Text(), err)
			}
			if line.Op == string(connector.OpDelete) {
				delete(out, line.Key)
			} else {
				out[line.Key] = true
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("read %s: %v", r.path, err)
		}
	}
	return out
}
