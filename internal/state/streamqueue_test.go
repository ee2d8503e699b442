package state_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/state"
)

func change(key, data string) state.StreamChange {
	return state.StreamChange{Key: key, Data: []byte(data)}
}

func put(t *testing.T, q *state.StreamQueue, changes ...state.StreamChange) {
	t.Helper()
	if err := q.Put(context.Background(), changes); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func take(t *testing.T, q *state.StreamQueue, n int) []state.StreamChange {
	t.Helper()
	got, err := q.Take(context.Background(), n)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return got
}

func queueLen(t *testing.T, q *state.StreamQueue) int64 {
	t.Helper()
	n, err := q.Len(context.Background())
	if err != nil {
		t.Fatalf("Len: %v", err)
	}
	return n
}

// show renders changes as "key=data" (or "key deleted"), in order.
func show(changes []state.StreamChange) string {
	var parts []string
	for _, c := range changes {
		if c.Delete {
			parts = append(parts, c.Key+" deleted")
		} else {
			parts = append(parts, c.Key+"="+string(c.Data))
		}
	}
	return strings.Join(parts, ",")
}

func TestStreamQueueCoalescesByKey(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		q := open(t, b).StreamQueue("s")
		// Within one Put the last change of a key counts, at its place.
		put(t, q, change("a", "1"), change("b", "1"), change("a", "2"), change("c", "1"))
		put(t, q, change("b", "2"))
		put(t, q, state.StreamChange{Key: "c", Delete: true}, change("d", "1"))
		if n := queueLen(t, q); n != 4 {
			t.Errorf("Len %d after 7 changes of 4 keys, want 4", n)
		}
		if got := show(take(t, q, 10)); got != "a=2,b=2,c deleted,d=1" {
			t.Errorf("Take: %s; want each key's last change, oldest first", got)
		}
		if got := show(take(t, q, 2)); got != "a=2,b=2" {
			t.Errorf("Take(2): %s; want the two oldest", got)
		}
	})
}

func TestStreamQueueDoneKeepsNewerChanges(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		q := open(t, b).StreamQueue("s")
		put(t, q, change("a", "1"), change("b", "1"), change("c", "1"))
		taken := take(t, q, 10)
		for i := 1; i < len(taken); i++ {
			if taken[i].Seq <= taken[i-1].Seq {
				t.Fatalf("seqs not increasing: %+v", taken)
			}
		}
		// While they are being delivered, a changes again.
		put(t, q, change("a", "2"))
		if err := q.Done(ctx, taken); err != nil {
			t.Fatal(err)
		}
		left := take(t, q, 10)
		if got := show(left); got != "a=2" {
			t.Fatalf("after Done: %s; want the change that arrived during delivery", got)
		}
		if left[0].Seq <= taken[2].Seq {
			t.Errorf("the newer change has seq %d, not after %d", left[0].Seq, taken[2].Seq)
		}
		// Done twice, or of changes already gone, removes nothing more.
		if err := q.Done(ctx, taken); err != nil {
			t.Fatal(err)
		}
		if n := queueLen(t, q); n != 1 {
			t.Errorf("Len %d, want 1", n)
		}
		if err := q.Done(ctx, left); err != nil {
			t.Fatal(err)
		}
		// A key delivered and changed again gets a seq never handed out before.
		put(t, q, change("a", "3"))
		again := take(t, q, 10)
		if len(again) != 1 || again[0].Seq <= left[0].Seq {
			t.Errorf("after the queue emptied: %+v, want a seq after %d", again, left[0].Seq)
		}
	})
}

func TestStreamQueueLargePutAndSyncsApart(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := open(t, b)
		q, other := s.StreamQueue("s"), s.StreamQueue("other")
		// More changes than one statement holds, every key twice.
		var batch []state.StreamChange
		for round := range 2 {
			for i := range 450 {
				batch = append(batch, change(fmt.Sprintf("k%03d", i), fmt.Sprint(round)))
			}
		}
		put(t, q, batch...)
		put(t, other, change("a", "x"), state.StreamChange{Key: "z", Delete: true})
		if n := queueLen(t, q); n != 450 {
			t.Errorf("Len %d, want 450", n)
		}
		got := take(t, q, 1000)
		if len(got) != 450 || got[0].Key != "k000" || got[449].Key != "k449" || string(got[449].Data) != "1" {
			t.Errorf("Take: %d changes, first %+v", len(got), got[0])
		}
		lens, err := s.StreamQueueLens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lens["s"] != 450 || lens["other"] != 2 || len(lens) != 2 {
			t.Errorf("StreamQueueLens %v", lens)
		}
		if err := q.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if n := queueLen(t, q); n != 0 {
			t.Errorf("Len %d after Clear", n)
		}
		if got := show(take(t, other, 10)); got != "a=x,z deleted" {
			t.Errorf("another sync's queue after Clear: %s", got)
		}
		if got := take(t, q, 10); len(got) != 0 {
			t.Errorf("Take after Clear: %+v", got)
		}
	})
}

func TestStreamQueueSurvivesReopen(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		loc := b.location(t)
		s, err := state.Open(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		put(t, s.StreamQueue("s"), change("a", "1"), state.StreamChange{Key: "b", Delete: true})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = state.Open(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := show(take(t, s.StreamQueue("s"), 10)); got != "a=1,b deleted" {
			t.Errorf("after reopening: %s", got)
		}
	})
}

// BenchmarkStreamQueueRound is the queue's share of a streamed change's
// latency at about 1,000 changes/s: a gathered batch of 50 changes put,
// taken and done, on the embedded store.
func BenchmarkStreamQueueRound(b *testing.B) {
	ctx := context.Background()
	s, err := state.Open(ctx, b.TempDir()+"/state.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q := s.StreamQueue("s")
	batch := make([]state.StreamChange, 50)
	data := []byte(strings.Repeat("x", 60))
	for b.Loop() {
		for i := range batch {
			batch[i] = state.StreamChange{Key: fmt.Sprint(i), Data: data}
		}
		if err := q.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
		got, err := q.Take(ctx, 10000)
		if err != nil || len(got) != len(batch) {
			b.Fatal(len(got), err)
		}
		if err := q.Done(ctx, got); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStreamQueuePutSetsSeqs(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		q := open(t, b).StreamQueue("s")
		batch := []state.StreamChange{change("a", "1"), change("b", "1"), change("a", "2")}
		if got := show(state.Coalesce(batch)); got != "b=1,a=2" {
			t.Errorf("Coalesce: %s", got)
		}
		put(t, q, batch...)
		taken := take(t, q, 10)
		if len(taken) != 2 || batch[0].Seq != 0 || batch[1].Seq != taken[0].Seq || batch[2].Seq != taken[1].Seq {
			t.Errorf("seqs set %d,%d,%d; queued %+v", batch[0].Seq, batch[1].Seq, batch[2].Seq, taken)
		}
		// The seqs Put set are what Done takes.
		if err := q.Done(context.Background(), batch[1:]); err != nil {
			t.Fatal(err)
		}
		if n := queueLen(t, q); n != 0 {
			t.Errorf("Len %d after Done of what Put queued", n)
		}
	})
}
