package diff

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/value"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata scripts")

// TestScripts runs the data-driven cases in testdata/*.txt. A script is a
// sequence of commands, each followed by its input lines, a "----" line and
// the expected output, ended by a blank line:
//
//	plan [resync] [bits=N]   diff rows ("key value" lines) against the snapshot
//	commit [KEY...]          acknowledge the last plan's ops (all, or these keys)
//	provisional [KEY...]     acknowledge provisionally (a deferred destination)
//	confirm                  confirm the provisional acknowledgements
//	reopen                   close and reopen the snapshot, as a new process would
//	tear                     append a torn group to the delta log, as a crash would
//	snapshot                 list the snapshot
//
// Run with -update to rewrite the expected outputs.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

type scriptState struct {
	t     *testing.T
	dir   string
	snap  *Snapshot
	plan  []Op
	delta *DeltaWriter
}

func (s *scriptState) open() {
	snap, err := Open(filepath.Join(s.dir, "snap"))
	if err != nil {
		s.t.Fatalf("open snapshot: %v", err)
	}
	s.snap = snap
}

func runScript(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	st := &scriptState{t: t, dir: t.TempDir()}
	st.open()
	defer func() { st.snap.Close() }()

	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		cmd := line
		var input []string
		for sc.Scan() && sc.Text() != "----" {
			input = append(input, sc.Text())
		}
		for sc.Scan() && sc.Text() != "" {
		}
		got := st.exec(cmd, input)
		out.WriteString(cmd + "\n")
		for _, in := range input {
			out.WriteString(in + "\n")
		}
		out.WriteString("----\n" + got + "\n\n")
	}
	if *update {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out.String() != string(b) {
		t.Errorf("%s: output differs; run with -update and check the diff\n--- got\n%s", file, out.String())
	}
}

func (s *scriptState) exec(cmd string, input []string) string {
	f := strings.Fields(cmd)
	switch f[0] {
	case "plan":
		return s.doPlan(f[1:], input)
	case "commit", "provisional":
		tag := ""
		if f[0] == "provisional" {
			tag = "run-1"
		}
		d, err := s.snap.Delta(tag)
		if err != nil {
			return "error: " + err.Error()
		}
		var set, del []Entry
		want := map[string]bool{}
		for _, k := range f[1:] {
			want[k] = true
		}
		for _, op := range s.plan {
			if len(want) > 0 && !want[op.Entry.Key] {
				continue
			}
			if op.Kind == Removed {
				del = append(del, op.Entry)
			} else {
				set = append(set, op.Entry)
			}
		}
		if err := d.Commit(set, del); err != nil {
			return "error: " + err.Error()
		}
		if tag != "" {
			s.delta = d
		} else {
			d.Close()
		}
		return fmt.Sprintf("committed %d set, %d deleted", len(set), len(del))
	case "confirm":
		if err := s.delta.Confirm(); err != nil {
			return "error: " + err.Error()
		}
		s.delta.Close()
		return "confirmed"
	case "reopen":
		s.snap.Close()
		s.open()
		return fmt.Sprintf("reopened: %d keys", s.snap.Len())
	case "tear":
		f, err := os.OpenFile(s.snap.deltaPath(s.snap.gen), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return "error: " + err.Error()
		}
		// A group header promising more bytes than follow.
		f.Write([]byte{0x52, 0x54, 0x44, 0x31, 0xff, 0, 0, 0, 1, 2, 3, 4, 1, 0})
		f.Close()
		return "torn"
	case "snapshot":
		if err := s.snap.Compact(); err != nil {
			return "error: " + err.Error()
		}
		r, err := s.snap.reader()
		if err != nil {
			return "error: " + err.Error()
		}
		defer r.close()
		var keys []string
		for {
			e, ok, err := r.peek()
			if err != nil {
				return "error: " + err.Error()
			}
			if !ok {
				break
			}
			keys = append(keys, e.Key)
			r.next()
		}
		sort.Strings(keys)
		return fmt.Sprintf("%d keys: %s", s.snap.Len(), strings.Join(keys, " "))
	}
	s.t.Fatalf("unknown command %q", cmd)
	return ""
}

func (s *scriptState) doPlan(args, input []string) string {
	t := &Target{Name: "s", Snapshot: s.snap, Seed: 7}
	opts := PlannerOptions{KeepPayload: true}
	for _, a := range args {
		switch {
		case a == "resync":
			t.FullResync = true
		case strings.HasPrefix(a, "seed="):
			fmt.Sscanf(a, "seed=%d", &t.Seed)
		case strings.HasPrefix(a, "rows="):
			fmt.Sscanf(a, "rows=%d", &opts.EstimatedRows)
		}
	}
	p, err := NewPlanner(filepath.Join(s.dir, "tmp"), []*Target{t}, opts)
	if err != nil {
		return "error: " + err.Error()
	}
	defer p.Close()
	offs := make([]int, 3)
	for _, in := range input {
		key, val, _ := strings.Cut(in, " ")
		payload := value.AppendRow(nil, []any{key, val}, offs)
		if err := p.Add(key, payload, offs); err != nil {
			return "error: " + err.Error()
		}
	}
	var rejected []string
	plans, err := p.Finish(context.Background(), func(r Rejection) error {
		rejected = append(rejected, r.Key+" ("+r.Reason+")")
		return nil
	})
	if err != nil {
		return "error: " + err.Error()
	}
	pl := plans[0]
	defer pl.Close()
	s.plan = nil
	byKind := map[Kind][]string{}
	err = pl.Each(context.Background(), func(op Op) error {
		s.plan = append(s.plan, Op{Kind: op.Kind, Entry: op.Entry})
		label := op.Entry.Key
		if op.Kind != Removed {
			row, err := decodeAll(op.Payload)
			if err != nil {
				return err
			}
			label += "=" + row
		}
		byKind[op.Kind] = append(byKind[op.Kind], label)
		return nil
	})
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, k := range []Kind{Added, Changed, Removed, Unchanged} {
		sort.Strings(byKind[k])
		fmt.Fprintf(&b, "%s: %s\n", k, orDash(strings.Join(byKind[k], " ")))
	}
	sort.Strings(rejected)
	fmt.Fprintf(&b, "rejected: %s\n", orDash(strings.Join(rejected, ", ")))
	c := pl.Counts
	fmt.Fprintf(&b, "counts: added=%d changed=%d removed=%d unchanged=%d", c.Added, c.Changed, c.Removed, c.Unchanged)
	return b.String()
}

func decodeAll(b []byte) (string, error) {
	var parts []string
	for len(b) > 0 {
		v, n, err := value.Decode(b)
		if err != nil {
			return "", err
		}
		parts = append(parts, value.Text(v))
		b = b[n:]
	}
	return strings.Join(parts[1:], ","), nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
