package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/value"
)

var fields = []string{"email", "plan", "amount", "active", "score", "n", "at", "day", "doc", "tags", "raw", "note", "none"}

func target(sync, run string) connector.Target {
	return connector.Target{Sync: sync, RunID: run, Mode: "mirror", Fields: fields, PrimaryKey: []string{"id"}}
}

func open(t *testing.T, dir string, settings connector.Settings, tgt connector.Target) *destination {
	t.Helper()
	p := Plugin()
	set := connector.Settings{"path": "out"}
	for k, v := range settings {
		set[k] = v
	}
	d, err := p.New(context.Background(), p.Spec.WithDefaults(set), tgt, dir)
	if err != nil {
		t.Fatalf("new destination: %v", err)
	}
	return d.(*destination)
}

func full(op connector.Op, key string) connector.Record {
	vals := []any{"a@b.c", "pro", value.Decimal("1234567890.123456789"), true, 0.5, int64(-3),
		time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC), value.Date("2024-02-29"),
		value.JSON(`{"a":[1,2]}`), []any{"x", int64(1), nil}, []byte{0, 1, 0xff}, "say \"hi\",\n<b>", nil}
	r := connector.Record{Op: op, Key: key, KeyParts: []string{key}}
	for i, f := range fields {
		r.Fields = append(r.Fields, connector.FieldValue{Name: f, Value: vals[i]})
	}
	return r
}

func small(op connector.Op, key, email string) connector.Record {
	r := connector.Record{Op: op, Key: key, KeyParts: []string{key}}
	for _, f := range fields {
		var v any
		if f == "email" {
			v = email
		}
		r.Fields = append(r.Fields, connector.FieldValue{Name: f, Value: v})
	}
	return r
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

const goldenJSONL = `{"op":"upsert","key":"42","data":{"email":"a@b.c","plan":"pro","amount":1234567890.123456789,"active":true,"score":0.5,"n":-3,"at":"2024-02-29T13:14:15.123456Z","day":"2024-02-29","doc":{"a":[1,2]},"tags":["x",1,null],"raw":"AAH/","note":"say \"hi\",\n\u003cb\u003e","none":null}}
{"op":"insert","key":"a\\|b|1","data":{"email":"é@x.io","plan":null,"amount":null,"active":null,"score":null,"n":null,"at":null,"day":null,"doc":null,"tags":null,"raw":null,"note":null,"none":null}}
{"op":"delete","key":"7"}
{"op":"update","key":"8","data":{"email":"","plan":null,"amount":null,"active":null,"score":null,"n":null,"at":null,"day":null,"doc":null,"tags":null,"raw":null,"note":null,"none":null}}
`

const goldenCSV = `op,key,email,plan,amount,active,score,n,at,day,doc,tags,raw,note,none
upsert,42,a@b.c,pro,1234567890.123456789,true,0.5,-3,2024-02-29T13:14:15.123456Z,2024-02-29,"{""a"":[1,2]}","[""x"",1,null]",AAH/,"say ""hi"",
<b>",
insert,a\|b|1,é@x.io,,,,,,,,,,,,
delete,7,,,,,,,,,,,,,
update,8,,,,,,,,,,,,,
`

// TestFormats writes two batches and checks the published file byte for
// byte, and that nothing is published before Close.
func TestFormats(t *testing.T) {
	tests := []struct {
		format string
		golden string
	}{
		{"jsonl", goldenJSONL},
		{"csv", goldenCSV},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			project := t.TempDir()
			d := open(t, project, connector.Settings{"format": tt.format}, target("users", "run1"))
			dir := filepath.Join(project, "out")
			ctx := context.Background()
			if err := d.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{full("upsert", "42"), small("insert", `a\|b|1`, "é@x.io")}}); err != nil {
				t.Fatal(err)
			}
			if err := d.Write(ctx, &connector.Batch{Seq: 2, Records: []connector.Record{{Op: "delete", Key: "7", KeyParts: []string{"7"}}, small("update", "8", "")}}); err != nil {
				t.Fatal(err)
			}
			final := "users-run1." + tt.format
			tmp := "." + final + ".tmp"
			if diff := cmp.Diff([]string{tmp}, listDir(t, dir)); diff != "" {
				t.Errorf("before Close, directory (-want +got):\n%s", diff)
			}
			if err := d.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{final}, listDir(t, dir)); diff != "" {
				t.Errorf("after Close, directory (-want +got):\n%s", diff)
			}
			got, err := os.ReadFile(filepath.Join(dir, final))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.golden, string(got)); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			if err := d.Close(ctx); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := d.Write(ctx, &connector.Batch{Seq: 3, Records: []connector.Record{small("upsert", "9", "x")}}); err == nil {
				t.Error("Write after Close succeeded")
			}
		})
	}
}

func TestJSONLLinesAreJSON(t *testing.T) {
	buf, err := encodeJSONL(fields, []connector.Record{full("upsert", "42"), {Op: "delete", Key: "7"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("line %s: %v", line, err)
		}
	}
}

func TestNoRecordsNoFile(t *testing.T) {
	tests := []struct {
		name    string
		batches []*connector.Batch
	}{
		{"no writes", nil},
		{"empty batches", []*connector.Batch{{Seq: 1}, {Seq: 2, Records: []connector.Record{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project := t.TempDir()
			d := open(t, project, nil, target("users", "run1"))
			for _, b := range tt.batches {
				if err := d.Write(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := listDir(t, filepath.Join(project, "out")); len(got) != 0 {
				t.Errorf("directory holds %v, want nothing", got)
			}
		})
	}
}

// TestStaleTempFiles checks that a new run removes the temporary files of
// its sync's dead runs, and nothing else.
func TestStaleTempFiles(t *testing.T) {
	project := t.TempDir()
	dir := filepath.Join(project, "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A live run of another sync whose name starts like this one's.
	live := open(t, project, nil, target("users-eu", "live"))
	if err := live.Write(context.Background(), &connector.Batch{Seq: 1, Records: []connector.Record{small("upsert", "1", "x")}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".users-dead.jsonl.tmp", ".users-old.csv.tmp", ".users_eu-x.jsonl.tmp",
		".orders-x.jsonl.tmp", "users-done.jsonl", ".users-notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := open(t, project, nil, target("users", "run2"))
	defer d.Close(context.Background())
	want := []string{".orders-x.jsonl.tmp", ".users-eu-live.jsonl.tmp", ".users-notes.txt", ".users_eu-x.jsonl.tmp", "users-done.jsonl"}
	if !lockSupported {
		// Without locks the live run's file cannot be told from a dead one's.
		want = slices.DeleteFunc(want, func(s string) bool { return s == ".users-eu-live.jsonl.tmp" })
	}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Errorf("directory after the new run's start (-want +got):\n%s", diff)
	}
	if lockSupported {
		if err := live.Close(context.Background()); err != nil {
			t.Fatalf("the live run could not finish: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "users-eu-live.jsonl")); err != nil {
			t.Errorf("the live run's file: %v", err)
		}
	}
}

func TestConcurrentWrites(t *testing.T) {
	project := t.TempDir()
	d := open(t, project, nil, target("users", "run1"))
	const writers, perBatch = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := &connector.Batch{Seq: w + 1}
			for i := range perBatch {
				k := fmt.Sprintf("%d-%d", w, i)
				b.Records = append(b.Records, small("upsert", k, k+"@x.io"))
			}
			if err := d.Write(context.Background(), b); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(project, "out", "users-run1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct{ Key string }
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if seen[line.Key] {
			t.Errorf("key %s written twice", line.Key)
		}
		seen[line.Key] = true
	}
	if len(seen) != writers*perBatch {
		t.Errorf("%d records in the file, want %d", len(seen), writers*perBatch)
	}
}

func TestPaths(t *testing.T) {
	project := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs", "dir")
	tests := []struct {
		path string
		want string
	}{
		{"exports/nested", filepath.Join(project, "exports", "nested", "s-r.csv")},
		{abs, filepath.Join(abs, "s-r.csv")},
	}
	for _, tt := range tests {
		d := open(t, project, connector.Settings{"path": tt.path, "format": "csv"}, target("s", "r"))
		if err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: []connector.Record{small("upsert", "1", "x")}}); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tt.want); err != nil {
			t.Errorf("path %q: %v", tt.path, err)
		}
	}
}

func TestFactoryErrors(t *testing.T) {
	tests := []struct {
		name     string
		settings connector.Settings
		tgt      connector.Target
		want     string
	}{
		{"missing path", connector.Settings{}, target("s", "r"), "missing required setting path"},
		{"unknown format", connector.Settings{"path": "out", "format": "xml"}, target("s", "r"), "format must be one of csv, jsonl"},
		{"sync name with a separator", connector.Settings{"path": "out"}, target("a/b", "r"), `sync name "a/b" cannot be part of a file name`},
		{"run id with a dot first", connector.Settings{"path": "out"}, target("s", "..x"), `run ID "..x" cannot be part of a file name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plugin()
			_, err := p.New(context.Background(), p.Spec.WithDefaults(tt.settings), tt.tgt, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRecordWithoutField(t *testing.T) {
	project := t.TempDir()
	d := open(t, project, nil, target("users", "run1"))
	bad := connector.Record{Op: "upsert", Key: "1", Fields: []connector.FieldValue{{Name: "email", Value: "x"}}}
	err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: []connector.Record{small("upsert", "2", "y"), bad}})
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Retryable || re.Message != `record lacks a mapped field "plan" (key 1)` {
		t.Fatalf("err = %#v, want a non-retryable RequestError naming the field", err)
	}
	if err := d.Write(context.Background(), &connector.Batch{Seq: 1, Records: []connector.Record{small("upsert", "2", "y")}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(project, "out", "users-run1.jsonl"))
	if n := bytes.Count(got, []byte("\n")); n != 1 {
		t.Errorf("file has %d lines, want only the good batch's 1:\n%s", n, got)
	}
}

// TestFailedWriteIsNotPublished breaks the file under the writer: the
// write fails, later writes refuse, and Close publishes nothing.
func TestFailedWriteIsNotPublished(t *testing.T) {
	project := t.TempDir()
	d := open(t, project, nil, target("users", "run1"))
	ctx := context.Background()
	if err := d.Write(ctx, &connector.Batch{Seq: 1, Records: []connector.Record{small("upsert", "1", "x")}}); err != nil {
		t.Fatal(err)
	}
	d.f.Close() // the next flush to the file fails
	var big []connector.Record
	for i := range 5000 { // more than the write buffer holds
		big = append(big, small("upsert", fmt.Sprint(i), strings.Repeat("x", 100)))
	}
	if err := d.Write(ctx, &connector.Batch{Seq: 2, Records: big}); err == nil {
		t.Fatal("write to a closed file succeeded")
	}
	if err := d.Write(ctx, &connector.Batch{Seq: 3, Records: []connector.Record{small("upsert", "1", "x")}}); err == nil {
		t.Error("write after a failed write succeeded")
	}
	if err := d.Close(ctx); err == nil {
		t.Error("Close after a failed write succeeded")
	}
	if got := listDir(t, filepath.Join(project, "out")); len(got) != 0 {
		t.Errorf("directory holds %v, want nothing", got)
	}
}
