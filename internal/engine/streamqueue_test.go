package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/testsvc"
	"github.com/riptide-data/riptide/internal/value"
)

// outage stands in front of the test's CRM: while down, every request
// gets a 503, as from a destination under maintenance; otherwise requests
// go through, and what the CRM accepted is recorded with its values.
type outage struct {
	crm     *fakeCRM
	down    atomic.Bool
	refused atomic.Int64 // requests answered 503
	mu      sync.Mutex
	got     []string        // "key=plan" or "key deleted", in order of acceptance
	sick    map[string]bool // keys whose requests are answered 503 (under mu)
}

func (o *outage) plugin() connector.DestinationPlugin {
	p := o.crm.plugin()
	inner := p.New
	p.New = func(ctx context.Context, s connector.Settings, t connector.Target, dir string) (connector.Destination, error) {
		d, err := inner(ctx, s, t, dir)
		if err != nil {
			return nil, err
		}
		return &outageWriter{o: o, dst: d}, nil
	}
	return p
}

type outageWriter struct {
	o   *outage
	dst connector.Destination
}

func (w *outageWriter) Write(ctx context.Context, b *connector.Batch) error {
	if w.o.down.Load() || w.o.carriesSick(b) {
		w.o.refused.Add(1)
		return connector.ClassifyHTTP(503, []byte("down for maintenance"), 0)
	}
	if err := w.dst.Write(ctx, b); err != nil {
		return err
	}
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	for _, r := range b.Records {
		if r.Op == connector.OpDelete {
			w.o.got = append(w.o.got, r.Key+" deleted")
			continue
		}
		for _, f := range r.Fields {
			if f.Name == "plan" {
				w.o.got = append(w.o.got, fmt.Sprintf("%s=%v", r.Key, f.Value))
			}
		}
	}
	return nil
}

func (w *outageWriter) Close(ctx context.Context) error { return w.dst.Close(ctx) }

func (o *outage) carriesSick(b *connector.Batch) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range b.Records {
		if o.sick[r.Key] {
			return true
		}
	}
	return false
}

func (o *outage) accepted() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.got...)
}

// withOutage puts an outage in front of the bundle's CRM, and makes the
// engine's waits short (but real, so that a pause lets the reader in).
func (b *bundle) withOutage() *outage {
	o := &outage{crm: b.crm}
	b.engine.Destinations["crm"] = o.plugin()
	b.engine.Sleep = func(ctx context.Context, d time.Duration) error {
		t := time.NewTimer(min(d, time.Millisecond))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return o
}

// following is a Follow running in the background.
type following struct {
	cancel context.CancelFunc
	done   chan error
}

func (b *bundle) startFollow(sync string, feed ChangeFeed) *following {
	ctx, cancel := context.WithCancel(context.Background())
	fl := &following{cancel: cancel, done: make(chan error, 1)}
	go func() { fl.done <- b.engine.Follow(ctx, sync, feed) }()
	b.t.Cleanup(cancel)
	return fl
}

// stop stops the Follow and checks it ended cleanly.
func (fl *following) stop(t *testing.T) {
	t.Helper()
	fl.cancel()
	if err := <-fl.done; err != nil {
		t.Fatalf("follow: %v", err)
	}
}

// waitFor polls cond until it holds; the deadline only keeps a broken
// test from hanging.
func (b *bundle) waitFor(fl *following, what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		select {
		case err := <-fl.done:
			b.t.Fatalf("follow stopped while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A destination away for a while: the feed is read and acknowledged all
// along (the source keeps no backlog), the queue grows by distinct keys
// only, and once the destination is back each key's last change arrives,
// once, and the snapshot is what was delivered.
func TestFollowDestinationOutageThenRecovery(t *testing.T) {
	for _, store := range []string{"embedded", "shared"} {
		t.Run(store, func(t *testing.T) {
			b := setup(t, sync1("s", config.ModeMirror))
			if store == "shared" {
				b.onSharedStore(testsvc.PostgresURL(t))
			}
			o := b.withOutage()
			// One request per delivery: a delivery given up after its
			// attempts is told by the number of requests refused.
			b.project.Destinations["crm"].Settings["batch_size"] = 100

			const keys, rounds = 50, 20
			// The keys are in the snapshot before the outage (a delete of
			// a key it does not hold is not sent).
			var first [][]any
			for k := range keys {
				first = append(first, row(int64(k), fmt.Sprintf("u%d@x", k), "v-1"))
			}
			b.users(first...)
			if got := counts(b.run(Options{})[0]); got != "succeeded rows=50 add=50 chg=0 rem=0 same=0 rej=0 skip=0 plan=50 ok=50 fail=0" {
				t.Fatalf("first run: %s", got)
			}
			o.mu.Lock()
			o.got = nil
			o.mu.Unlock()
			o.down.Store(true)
			feed := newFeed()
			fl := b.startFollow("s", feed)
			// Every key changes in every round; in the last, keys 40… are
			// deleted. Each round is its own queue transaction.
			for r := range rounds {
				var changes []ModelChange
				for k := range keys {
					if r == rounds-1 && k >= 40 {
						changes = append(changes, deletion(int64(k)))
					} else {
						changes = append(changes, upsert(int64(k), fmt.Sprintf("u%d@x", k), fmt.Sprintf("v%d", r)))
					}
				}
				feed.in <- ChangeBatch{Columns: userCols, Position: uint64(r + 1), Changes: changes}
				b.waitFor(fl, "the feed acknowledged while the destination is down", func() bool { return feed.lastAck() == uint64(r+1) })
			}
			// Two more deliveries given up (each after the delivery layer's
			// 5 attempts) and another begun: the changes outlasted the
			// retries in the queue, and the delivery now in flight took
			// them after the last round was queued.
			before := o.refused.Load()
			b.waitFor(fl, "deliveries given up during the outage", func() bool { return o.refused.Load() > before+2*5 })
			if n := b.queued("s"); n != keys {
				t.Errorf("%d changes queued during the outage, want %d: one per distinct key, not %d", n, keys, keys*rounds)
			}
			if got := o.accepted(); len(got) != 0 {
				t.Fatalf("accepted during the outage: %v", got)
			}

			o.down.Store(false)
			b.waitFor(fl, "the queue drained", func() bool { return b.queued("s") == 0 })
			fl.stop(t)

			final := map[string]string{}
			for k := range keys {
				final[fmt.Sprint(k)] = fmt.Sprintf("%d=v%d", k, rounds-1)
				if k >= 40 {
					final[fmt.Sprint(k)] = fmt.Sprintf("%d deleted", k)
				}
			}
			// Each key's last change arrives exactly once; nothing else does.
			times := map[string]int{}
			got := o.accepted()
			for _, g := range got {
				times[g]++
			}
			for key, want := range final {
				if times[want] != 1 {
					t.Errorf("key %s: %q delivered %d times, want once", key, want, times[want])
				}
			}
			if len(got) != keys {
				t.Errorf("%d records delivered for %d keys: %v", len(got), keys, got)
			}
			if got := b.crm.keys(); got != strings.Join(sortedKeys(40), ",") {
				t.Errorf("destination holds %s", got)
			}

			// The snapshot is what was delivered: the batch run finds nothing to send.
			var rows [][]any
			for k := range 40 {
				rows = append(rows, row(int64(k), fmt.Sprintf("u%d@x", k), fmt.Sprintf("v%d", rounds-1)))
			}
			b.users(rows...)
			if got := counts(b.run(Options{})[0]); got != "succeeded rows=40 add=0 chg=0 rem=0 same=40 rej=0 skip=0 plan=0 ok=0 fail=0" {
				t.Errorf("batch run after the outage: %s", got)
			}
		})
	}
}

// A record the destination fails with a 503 every time, while it takes
// the others: the records batched with it get through once it is sent
// alone, and it is given up after poisonRounds deliveries that took
// other records, so that it does not hold the stream (whose later changes
// keep flowing); the next batch run sends it.
func TestFollowGivesUpARecordAlwaysFailedWhileOthersPass(t *testing.T) {
	b := setup(t)
	o := b.withOutage()
	o.sick = map[string]bool{"7": true}
	b.project.Destinations["crm"].Settings["batch_size"] = 10

	var first []ModelChange
	for k := range 10 {
		first = append(first, upsert(int64(k+1), fmt.Sprintf("u%d@x", k+1), "free"))
	}
	feed := newFeed()
	fl := b.startFollow("s", feed)
	feed.in <- ChangeBatch{Columns: userCols, Position: 1, Changes: first}
	// Alone, the ten fail together: an outage for all Riptide can tell.
	b.waitFor(fl, "the first request given up", func() bool { return o.refused.Load() >= 5 })
	if got := o.accepted(); len(got) != 0 {
		t.Fatalf("accepted with the sick record in every request: %v", got)
	}
	// Other changes keep coming; each is delivered, and the record of
	// key 7 is given up after some deliveries.
	pos := uint64(1)
	for b.queued("s") > 0 {
		if pos > 20 {
			t.Fatalf("key 7 still queued after %d more changes; accepted %v", pos-1, o.accepted())
		}
		pos++
		key := int64(100 + pos)
		feed.in <- ChangeBatch{Columns: userCols, Position: pos, Changes: []ModelChange{upsert(key, "n@x", "free")}}
		want := fmt.Sprintf("%d=free", key)
		b.waitFor(fl, "a later change delivered", func() bool { return slices.Contains(o.accepted(), want) })
	}
	fl.stop(t)

	times := map[string]int{}
	for _, g := range o.accepted() {
		times[g]++
	}
	for k := 1; k <= 10; k++ {
		want := 1
		if k == 7 {
			want = 0
		}
		if got := times[fmt.Sprintf("%d=free", k)]; got != want {
			t.Errorf("key %d delivered %d times, want %d", k, got, want)
		}
	}
	if pos < 1+poisonRounds-1 {
		t.Errorf("given up after %d later changes, want at least %d deliveries that took others", pos-1, poisonRounds-1)
	}

	// The destination takes key 7 again: the batch run sends it, and only it.
	o.mu.Lock()
	o.sick = nil
	o.mu.Unlock()
	rows := make([][]any, 0, 10+int(pos))
	for k := range 10 {
		rows = append(rows, row(int64(k+1), fmt.Sprintf("u%d@x", k+1), "free"))
	}
	for p := uint64(2); p <= pos; p++ {
		rows = append(rows, row(int64(100+p), "n@x", "free"))
	}
	b.users(rows...)
	want := fmt.Sprintf("succeeded rows=%d add=1 chg=0 rem=0 same=%d rej=0 skip=0 plan=1 ok=1 fail=0", len(rows), len(rows)-1)
	if got := counts(b.run(Options{})[0]); got != want {
		t.Errorf("batch run after the stream: %s, want %s", got, want)
	}
	if times := o.accepted(); !slices.Contains(times, "7=free") {
		t.Errorf("the batch run did not send key 7: %v", times)
	}
}

// sortedKeys is "0".."n-1" as the CRM's keys() sorts them.
func sortedKeys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprint(i)
	}
	sortStrings(ks)
	return ks
}

// Changes queued and acknowledged, then the process stops before
// delivering them: the next Follow, on the store reopened and a feed with
// nothing new, delivers them first.
func TestFollowDeliversTheQueueLeftByAStoppedProcess(t *testing.T) {
	for _, store := range []string{"embedded", "shared"} {
		t.Run(store, func(t *testing.T) {
			b := setup(t)
			var url string
			if store == "shared" {
				url = testsvc.PostgresURL(t)
				b.onSharedStore(url)
			}
			o := b.withOutage()
			o.down.Store(true)
			feed := newFeed()
			feed.in <- ChangeBatch{Columns: userCols, Position: 5, Changes: []ModelChange{upsert(1, "a@x", "free"), upsert(2, "b@x", "free")}}
			feed.in <- ChangeBatch{Columns: userCols, Position: 9, Changes: []ModelChange{upsert(2, "b@x", "pro"), upsert(3, "c@x", "free")}}
			fl := b.startFollow("s", feed)
			b.waitFor(fl, "the feed acknowledged", func() bool { return feed.lastAck() == 9 })
			fl.stop(t)
			if n := b.queued("s"); n != 3 {
				t.Fatalf("%d changes queued, want 3", n)
			}

			// A new process: the embedded store opened again from its file,
			// or another machine on the shared store.
			if err := b.store.Close(); err != nil {
				t.Fatal(err)
			}
			if store == "shared" {
				b.onSharedStore(url)
			} else {
				reopened, err := state.Open(context.Background(), b.project.Dir+"/state.db")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { reopened.Close() })
				b.store, b.engine.Store = reopened, reopened
			}
			o.down.Store(false)
			quiet := newFeed()
			fl = b.startFollow("s", quiet)
			b.waitFor(fl, "the queue drained", func() bool { return b.queued("s") == 0 })
			fl.stop(t)
			got := o.accepted()
			sortStrings(got) // two requests in flight arrive in either order
			if strings.Join(got, ",") != "1=free,2=pro,3=free" {
				t.Errorf("delivered %v, want the queued changes", got)
			}
			if quiet.lastAck() != 0 {
				t.Errorf("the new feed acknowledged %d: it gave nothing", quiet.lastAck())
			}
			b.users(row(1, "a@x", "free"), row(2, "b@x", "pro"), row(3, "c@x", "free"))
			if got := counts(b.run(Options{})[0]); got != "succeeded rows=3 add=0 chg=0 rem=0 same=3 rej=0 skip=0 plan=0 ok=0 fail=0" {
				t.Errorf("batch run after: %s", got)
			}
		})
	}
}

// Rows the destination refuses, one by one or by failing their request
// as a whole, leave the queue and the snapshot: the next batch run sends
// them. A failure that passes within the delivery layer's retries costs
// nothing.
func TestFollowRefusedRowsLeaveTheQueue(t *testing.T) {
	b := setup(t)
	b.crm.rowFail["4"] = "invalid email"
	b.crm.poison["5"] = true
	b.crm.status = []int{503, 429}
	feed := newFeed()
	feed.in <- ChangeBatch{Columns: userCols, Position: 3, Changes: []ModelChange{upsert(4, "bad", "free"), upsert(5, "e@x", "free"), upsert(6, "f@x", "free")}}
	b.follow(feed, "s", 3) // returns once the queue is empty
	if got := strings.Join(b.crm.takeOps(), ","); got != "upsert 6" {
		t.Errorf("streamed %s", got)
	}
	if n := b.queued("s"); n != 0 {
		t.Errorf("%d changes left queued", n)
	}
	delete(b.crm.rowFail, "4")
	delete(b.crm.poison, "5")
	b.users(row(4, "d@x", "free"), row(5, "e@x", "free"), row(6, "f@x", "free"))
	if got := counts(b.run(Options{})[0]); got != "succeeded rows=3 add=2 chg=0 rem=0 same=1 rej=0 skip=0 plan=2 ok=2 fail=0" {
		t.Errorf("batch run after the stream: %s", got)
	}
}

func TestResetClearsTheStreamQueue(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	q := b.store.StreamQueue("s")
	if err := q.Put(ctx, []state.StreamChange{{Key: "1", Data: []byte("x")}, {Key: "2", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if n := b.queued("s"); n != 2 {
		t.Fatalf("%d queued before the reset", n)
	}
	if err := b.engine.Reset(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if n := b.queued("s"); n != 0 {
		t.Errorf("%d queued after the reset, want 0", n)
	}
	if _, err := b.engine.StreamQueueLen(ctx, "nope"); err == nil {
		t.Error("StreamQueueLen of an unknown sync: no error")
	}
}

// A queued change gives back its columns and values exactly: the row
// hashes as the batch run's rows do.
func TestQueuedChangeRoundTrip(t *testing.T) {
	cols := []string{"id", "name", "score", "at", "amount", "tags", "raw", "ok", "gone"}
	row := []any{int64(-7), "zoë|x", 1.5, time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC), value.Decimal("12.30"),
		[]any{"a", int64(1)}, []byte{0, 1}, true, nil}
	data := encodeChange(encodeColumns(cols), row)
	enc, got, err := decodeChange(data)
	if err != nil {
		t.Fatal(err)
	}
	gotCols, err := decodeColumns(enc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(gotCols, ",") != strings.Join(cols, ",") {
		t.Errorf("columns %v", gotCols)
	}
	offs := make([]int, len(row)+1)
	want := value.AppendRow(nil, row, offs)
	if have := value.AppendRow(nil, got, offs); !bytes.Equal(have, want) {
		t.Errorf("row %v encodes differently from %v", got, row)
	}
	for _, bad := range [][]byte{nil, {5, 1}, data[:len(data)-1], append(append([]byte(nil), data...), 0)} {
		if _, _, err := decodeChange(bad); err == nil {
			t.Errorf("decodeChange(%x): no error", bad)
		}
	}
}

// scriptFeed gives its batches, then fails with err once (as a feed
// reporting a TRUNCATE does), then has nothing more.
type scriptFeed struct {
	fakeFeed
	batches []ChangeBatch
	err     error
}

func (f *scriptFeed) Next(ctx context.Context) (ChangeBatch, error) {
	if len(f.batches) > 0 {
		b := f.batches[0]
		f.batches = f.batches[1:]
		return b, nil
	}
	if err := f.err; err != nil {
		f.err = nil
		return ChangeBatch{}, err
	}
	<-ctx.Done()
	return ChangeBatch{}, ctx.Err()
}

// followOnce runs Follow until it returns; the timeout only keeps a test
// whose Follow never returns from hanging.
func (b *bundle) followOnce(feed ChangeFeed) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return b.engine.Follow(ctx, "s", feed)
}

// A feed that stops for its caller (a TRUNCATE, which the caller answers
// with a batch run) right after changes: those are queued, acknowledged
// and delivered before Follow returns the feed's error, so that no change
// older than the caller's batch run is left to be sent after it.
func TestFollowDeliversWhatWasQueuedBeforeAFeedError(t *testing.T) {
	b := setup(t)
	feed := &scriptFeed{
		batches: []ChangeBatch{
			{Columns: userCols, Position: 4, Changes: []ModelChange{upsert(1, "a@x", "free")}},
			{Columns: userCols, Position: 6, Changes: []ModelChange{upsert(2, "b@x", "pro")}},
		},
		err: errors.New("table users was truncated"),
	}
	err := b.followOnce(feed)
	if err == nil || !strings.Contains(err.Error(), "table users was truncated") {
		t.Fatalf("Follow: %v", err)
	}
	if got := feed.lastAck(); got != 6 {
		t.Errorf("acknowledged %d, want 6", got)
	}
	if got := strings.Join(b.crm.takeOps(), ","); got != "upsert 1,upsert 2" {
		t.Errorf("delivered %s", got)
	}
	if n := b.queued("s"); n != 0 {
		t.Errorf("%d changes left queued", n)
	}
}

// Changes queued with the model's columns of the time are delivered with
// them; a change of the columns while following stops Follow once the
// older changes are delivered, and the next Follow delivers the newer.
func TestFollowColumnsChangedWhileQueued(t *testing.T) {
	b := setup(t)
	wider := []string{"id", "email", "plan", "seats"}
	feed := &scriptFeed{
		batches: []ChangeBatch{
			{Columns: userCols, Position: 1, Changes: []ModelChange{upsert(1, "a@x", "free")}},
			{Columns: wider, Position: 2, Changes: []ModelChange{{Row: []any{int64(2), "b@x", "pro", int64(5)}}}},
		},
		err: errors.New("feed over"),
	}
	err := b.followOnce(feed)
	if err == nil || !strings.Contains(err.Error(), "columns changed") {
		t.Fatalf("Follow: %v; want the columns change", err)
	}
	if got := strings.Join(b.crm.takeOps(), ","); got != "upsert 1" {
		t.Errorf("delivered %s before the columns changed", got)
	}
	if n := b.queued("s"); n != 1 {
		t.Fatalf("%d changes queued, want the one with the new columns", n)
	}
	err = b.followOnce(&scriptFeed{err: errors.New("feed over")})
	if err == nil || !strings.Contains(err.Error(), "feed over") {
		t.Fatalf("second Follow: %v", err)
	}
	if got := strings.Join(b.crm.takeOps(), ","); got != "upsert 2" || b.crm.records["2"]["plan"] != "pro" {
		t.Errorf("second Follow delivered %s, %v", got, b.crm.records["2"])
	}
	if n := b.queued("s"); n != 0 {
		t.Errorf("%d changes left queued", n)
	}
}
