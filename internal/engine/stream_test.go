package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/diff"
)

// fakeFeed hands out the batches it is given and records acknowledgements.
type fakeFeed struct {
	in    chan ChangeBatch
	mu    sync.Mutex
	acked []uint64
	err   error
}

func newFeed() *fakeFeed { return &fakeFeed{in: make(chan ChangeBatch, 16)} }

func (f *fakeFeed) Next(ctx context.Context) (ChangeBatch, error) {
	select {
	case b := <-f.in:
		return b, nil
	case <-ctx.Done():
		return ChangeBatch{}, ctx.Err()
	}
}

func (f *fakeFeed) Ack(p uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked = append(f.acked, p)
}

func (f *fakeFeed) lastAck() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.acked) == 0 {
		return 0
	}
	return f.acked[len(f.acked)-1]
}

var userCols = []string{"id", "email", "plan"}

func upsert(id int64, email, plan string) ModelChange {
	return ModelChange{Row: row(id, email, plan)}
}

func deletion(id int64) ModelChange { return ModelChange{Delete: true, Row: []any{id, nil, nil}} }

// follow runs Follow until the feed has acknowledged position (the
// changes up to it are queued) and the sync's queue is empty (they are
// delivered), then stops it.
func (b *bundle) follow(feed *fakeFeed, sync string, until uint64) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.engine.Follow(ctx, sync, feed) }()
	deadline := time.Now().Add(10 * time.Second)
	for feed.lastAck() < until || b.queued(sync) > 0 {
		select {
		case err := <-done:
			b.t.Fatalf("follow stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			b.t.Fatalf("follow acknowledged %d, want %d; %d changes still queued", feed.lastAck(), until, b.queued(sync))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.t.Fatalf("follow: %v", err)
	}
}

func TestFollowMirrorThenBatchSendsNothing(t *testing.T) {
	b := setup(t, sync1("s", config.ModeMirror))
	b.users(row(1, "a@x", "free"), row(2, "b@x", "free"))
	if got := counts(b.run(Options{})[0]); got != "succeeded rows=2 add=2 chg=0 rem=0 same=0 rej=0 skip=0 plan=2 ok=2 fail=0" {
		t.Fatalf("first run: %s", got)
	}
	b.crm.takeOps()

	feed := newFeed()
	feed.in <- ChangeBatch{Columns: userCols, Position: 10, Changes: []ModelChange{upsert(1, "a@x", "pro"), upsert(3, "c@x", "free")}}
	// The same key twice in a linger: only its last change is sent.
	feed.in <- ChangeBatch{Columns: userCols, Position: 20, Changes: []ModelChange{upsert(3, "c@x", "pro"), deletion(2)}}
	feed.in <- ChangeBatch{Position: 30} // a transaction with nothing for the model
	b.follow(feed, "s", 30)
	if got := strings.Join(b.crm.takeOps(), ","); got != "delete 2,upsert 1,upsert 3" {
		t.Errorf("streamed %s", got)
	}
	if got := b.crm.records["3"]["plan"]; got != "pro" {
		t.Errorf("key 3 has plan %v, want the last change's", got)
	}

	// The model now is what was streamed: the batch run finds it in the snapshot.
	b.users(row(1, "a@x", "pro"), row(3, "c@x", "pro"))
	if got := counts(b.run(Options{})[0]); got != "succeeded rows=2 add=0 chg=0 rem=0 same=2 rej=0 skip=0 plan=0 ok=0 fail=0" {
		t.Errorf("batch run after the stream: %s", got)
	}
}

func TestFollowUpsertDropsDeletesAndLeavesFailuresToTheBatchRun(t *testing.T) {
	b := setup(t)
	b.users(row(1, "a@x", "free"), row(2, "b@x", "free"))
	b.run(Options{})
	b.crm.takeOps()
	b.crm.rowFail["4"] = "invalid email"

	feed := newFeed()
	feed.in <- ChangeBatch{Columns: userCols, Position: 7, Changes: []ModelChange{deletion(2), upsert(4, "bad", "free"), upsert(5, "e@x", "free")}}
	b.follow(feed, "s", 7)
	if got := strings.Join(b.crm.takeOps(), ","); got != "upsert 5" {
		t.Errorf("streamed %s; upsert mode sends no delete", got)
	}

	// Key 2 left the snapshot without a delete; key 4 failed and is sent again.
	delete(b.crm.rowFail, "4")
	b.users(row(1, "a@x", "free"), row(4, "d@x", "free"), row(5, "e@x", "free"))
	if got := counts(b.run(Options{})[0]); got != "succeeded rows=3 add=1 chg=0 rem=0 same=2 rej=0 skip=0 plan=1 ok=1 fail=0" {
		t.Errorf("batch run after the stream: %s", got)
	}
}

func TestFollowRefusesWhatCannotStream(t *testing.T) {
	b := setup(t, sync1("ins", config.ModeInsert))
	err := b.engine.Follow(context.Background(), "ins", newFeed())
	if err == nil || !strings.Contains(err.Error(), "mode insert cannot stream yet") {
		t.Errorf("insert mode: %v", err)
	}
	if err := b.engine.Follow(context.Background(), "nope", newFeed()); err == nil || !strings.Contains(err.Error(), `no sync named "nope"`) {
		t.Errorf("unknown sync: %v", err)
	}
}

func TestFollowStopsOnAFeedError(t *testing.T) {
	b := setup(t)
	feed := &errFeed{err: errors.New("table truncated")}
	err := b.engine.Follow(context.Background(), "s", feed)
	if err == nil || !strings.Contains(err.Error(), "table truncated") {
		t.Errorf("error %v", err)
	}
}

type errFeed struct{ err error }

func (f *errFeed) Next(context.Context) (ChangeBatch, error) { return ChangeBatch{}, f.err }
func (f *errFeed) Ack(uint64)                                {}

// queued is the length of a sync's change queue.
func (b *bundle) queued(sync string) int64 {
	b.t.Helper()
	n, err := b.engine.StreamQueueLen(context.Background(), sync)
	if err != nil {
		b.t.Fatalf("queue length: %v", err)
	}
	return n
}

// A change that leaves the row as the snapshot holds it is not sent, as
// a batch run would not send it: an update of what the sync does not
// send, a delete of a key the destination never got. The snapshot is the
// one the follow opened, then what it committed itself.
func TestFollowSkipsWhatTheSnapshotHolds(t *testing.T) {
	b := setup(t, sync1("s", config.ModeMirror))
	b.users(row(1, "a@x", "free"), row(2, "b@x", "free"))
	b.run(Options{})
	b.crm.takeOps()

	feed := newFeed()
	fl := b.startFollow("s", feed)
	step := func(pos uint64, want string, changes ...ModelChange) {
		t.Helper()
		feed.in <- ChangeBatch{Columns: userCols, Position: pos, Changes: changes}
		b.waitFor(fl, "the changes settled", func() bool { return feed.lastAck() == pos && b.queued("s") == 0 })
		if got := strings.Join(b.crm.takeOps(), ","); got != want {
			t.Errorf("position %d: sent %q, want %q", pos, got, want)
		}
	}
	// Key 1 as the batch run sent it; key 3 never sent.
	step(1, "upsert 2", upsert(1, "a@x", "free"), upsert(2, "b@x", "pro"), deletion(3))
	// Key 2 as this follow sent it; key 1 goes.
	step(2, "delete 1", upsert(2, "b@x", "pro"), deletion(1))
	// Key 1 gone in this follow: back as it was, it is sent; deleted
	// again, twice, it is sent once.
	step(3, "upsert 1", upsert(1, "a@x", "free"))
	step(4, "delete 1", deletion(1))
	step(5, "", deletion(1))
	fl.stop(t)

	// A new follow opens the snapshot as the last one left it.
	feed = newFeed()
	fl = b.startFollow("s", feed)
	step(6, "upsert 1", upsert(2, "b@x", "pro"), deletion(9), upsert(1, "a@x", "team"))
	fl.stop(t)

	b.users(row(1, "a@x", "team"), row(2, "b@x", "pro"))
	if got := counts(b.run(Options{})[0]); got != "succeeded rows=2 add=0 chg=0 rem=0 same=2 rej=0 skip=0 plan=0 ok=0 fail=0" {
		t.Errorf("batch run after the stream: %s", got)
	}
}

// Past the keys it keeps track of, the view stops telling changes apart:
// everything is sent, nothing skipped on stale knowledge.
func TestSnapshotViewGivesUpPastItsBound(t *testing.T) {
	v := newSnapshotView(emptyLookup(t), 2)
	log := slog.New(slog.DiscardHandler)
	e := func(k string, h uint64) diff.Entry { return diff.Entry{KeyHash: diff.KeyHash(k), Key: k, RowHash: h} }
	v.committed([]diff.Entry{e("a", 1), e("b", 2)}, nil)
	if !v.unchanged(e("a", 1), false, log) || v.unchanged(e("a", 5), false, log) || !v.unchanged(e("z", 0), true, log) {
		t.Fatal("within its bound the view tells unchanged rows from changed ones")
	}
	v.committed([]diff.Entry{e("c", 3)}, nil)
	if v.unchanged(e("a", 1), false, log) || v.unchanged(e("z", 0), true, log) {
		t.Error("past its bound the view still skips changes")
	}
}

// Two keys of one key hash: what the view says of one never lets a
// change of the other go unsent.
func TestSnapshotViewKeysSharingAHash(t *testing.T) {
	v := newSnapshotView(emptyLookup(t), 10)
	log := slog.New(slog.DiscardHandler)
	a, b := diff.Entry{KeyHash: 7, Key: "a", RowHash: 1}, diff.Entry{KeyHash: 7, Key: "b", RowHash: 2}
	v.committed([]diff.Entry{a}, []diff.Entry{b})
	if !v.unchanged(a, false, log) {
		t.Error("a, upserted as it is, counts as a change after b of the same hash went")
	}
	if v.unchanged(diff.Entry{KeyHash: 7, Key: "b", RowHash: 1}, false, log) {
		t.Error("b coming back is skipped")
	}
	if !v.unchanged(b, true, log) || v.unchanged(a, true, log) {
		t.Error("a delete of b (gone) is sent, or one of a (there) is skipped")
	}
}

// emptyLookup is a Lookup of an empty snapshot, closed when t ends.
func emptyLookup(t *testing.T) *diff.Lookup {
	t.Helper()
	s, err := diff.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	look, err := s.Lookup()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { look.Close() })
	return look
}
