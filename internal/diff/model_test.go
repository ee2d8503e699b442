package diff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/riptide-data/riptide/internal/value"
)

// TestAgainstModel runs random rounds of plan → partial acknowledgement →
// (sometimes) reopen against a plain map that models what the snapshot
// must hold, across partition counts.
func TestAgainstModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		for _, est := range []uint64{0, 100_000, 50_000_000} {
			t.Run(fmt.Sprintf("seed=%d/est=%d", seed, est), func(t *testing.T) {
				t.Parallel()
				if held, want := checkAgainstModel(t, seed, est, 0); held != want {
					t.Errorf("the snapshot holds %d keys at the end, the model %d", held, want)
				}
			})
		}
		// Partitions over a tiny size limit are split and loaded in parts.
		t.Run(fmt.Sprintf("seed=%d/split", seed), func(t *testing.T) {
			t.Parallel()
			if held, want := checkAgainstModel(t, seed, 0, 1); held != want {
				t.Errorf("the snapshot holds %d keys at the end, the model %d", held, want)
			}
		})
	}
}

// checkAgainstModel runs rounds of random plans and partial commits,
// failing t where the snapshot departs from a map model of it, and
// returns the keys the snapshot and the model hold at the end.
func checkAgainstModel(t *testing.T, seed, est uint64, maxPart int64) (held, want uint64) {
	rng := rand.New(rand.NewPCG(seed, est))
	dir := t.TempDir()
	snap, err := Open(filepath.Join(dir, "snap"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { snap.Close() }()
	model := map[string]uint64{} // key → row hash acknowledged
	rows := map[string]string{}  // the model's current rows
	offs := make([]int, 3)
	target := &Target{Name: "s", Snapshot: snap, Seed: 1}
	for round := 0; round < 8; round++ {
		// Mutate the model: add, change and delete some keys.
		for i := 0; i < 60; i++ {
			k := fmt.Sprint(rng.IntN(150))
			switch rng.IntN(3) {
			case 0:
				delete(rows, k)
			default:
				rows[k] = fmt.Sprint(rng.IntN(4))
			}
		}
		target.Snapshot = snap
		p, err := NewPlanner(filepath.Join(dir, "tmp"), []*Target{target}, PlannerOptions{EstimatedRows: est, MaxPartitionBytes: maxPart})
		if err != nil {
			t.Fatal(err)
		}
		want := map[Kind]int{}
		hashes := map[string]uint64{}
		for k, v := range rows {
			payload := value.AppendRow(nil, []any{k, v}, offs)
			h := RowHash(target, payload, offs)
			hashes[k] = h
			old, ok := model[k]
			switch {
			case !ok:
				want[Added]++
			case old != h:
				want[Changed]++
			default:
				want[Unchanged]++
			}
			if err := p.Add(k, payload, offs); err != nil {
				t.Fatal(err)
			}
		}
		for k := range model {
			if _, ok := rows[k]; !ok {
				want[Removed]++
			}
		}
		plans, err := p.Finish(context.Background(), func(r Rejection) error {
			t.Fatalf("unexpected rejection %v", r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		c := plans[0].Counts
		got := map[Kind]int{Added: int(c.Added), Changed: int(c.Changed), Removed: int(c.Removed), Unchanged: int(c.Unchanged)}
		for _, k := range []Kind{Added, Changed, Removed, Unchanged} {
			if got[k] != want[k] {
				t.Fatalf("round %d: %s = %d, want %d", round, k, got[k], want[k])
			}
		}
		// Acknowledge a random part of the plan, in a few groups.
		d, err := snap.Delta("")
		if err != nil {
			t.Fatal(err)
		}
		err = plans[0].Each(context.Background(), func(op Op) error {
			if rng.IntN(3) == 0 {
				return nil // failed: stays pending
			}
			if op.Kind == Removed {
				delete(model, op.Entry.Key)
				return d.Commit(nil, []Entry{op.Entry})
			}
			if op.Entry.RowHash != hashes[op.Entry.Key] {
				t.Fatalf("plan hash of %s differs", op.Entry.Key)
			}
			model[op.Entry.Key] = op.Entry.RowHash
			return d.Commit([]Entry{op.Entry}, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		plans[0].Close()
		if rng.IntN(2) == 0 {
			snap.Close()
			if snap, err = Open(filepath.Join(dir, "snap")); err != nil {
				t.Fatal(err)
			}
			if snap.Len() != uint64(len(model)) {
				t.Fatalf("round %d: reopened snapshot has %d keys, model %d", round, snap.Len(), len(model))
			}
		}
	}
	// Len counts what a reopened snapshot holds (its deltas folded in).
	snap.Close()
	if snap, err = Open(filepath.Join(dir, "snap")); err != nil {
		t.Fatal(err)
	}
	return snap.Len(), uint64(len(model))
}
