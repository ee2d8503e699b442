// Package destinationtest is the acceptance suite every destination passes:
// SaaS destinations against their emulators, queue, table and file
// destinations against the real system (an in-process Kafka cluster, the
// local NATS, RabbitMQ, Redis, PostgreSQL and MariaDB, a directory). The
// same scenarios run through the delivery layer the engine uses, so that
// destinations behave alike where the product promises they do.
//
// Scenarios: first sync, update, delete (mirror), a row refused by the
// destination, a 429 storm, 5xx, an invalid credential, and a batch over
// the destination's size refused. A system without an HTTP status maps the
// storms onto its own transient failures (a throttled or leaderless
// broker, a killed connection); a scenario that cannot apply to a system
// is skipped with the reason its harness declares.
package destinationtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/delivery"
)

// Emulator is one running emulator of the destination under test.
type Emulator struct {
	// Settings point the destination at the emulator with valid
	// credentials; BadCredentials is the same with a wrong secret.
	Settings       connector.Settings
	BadCredentials connector.Settings
	// BadSecret is the wrong secret inside BadCredentials (in a URL, say),
	// which no error may show; "" when there is nothing to look for.
	BadSecret string
	// Refusal is what the error of a destination that checks its
	// credentials when it opens must say on BadCredentials: the server's
	// own words (WRONGPASS, Access denied …), so a run failing to reach
	// the server does not pass for one refused by it.
	Refusal string
	// FailNext makes the emulator answer the next requests with these
	// statuses (429 with its rate-limit headers, 5xx). A system without
	// HTTP statuses fails its next requests the way it fails transiently
	// when throttling (429) or when a server is down or lost (5xx).
	FailNext func(statuses ...int)
	// Injected, when set, counts the injected failures the destination
	// has run into so far, so a storm that was never felt fails the test.
	Injected func() int
	// Held lists the identifier values the vendor holds now (created or
	// updated, not deleted or archived). For a log (a topic, a stream, a
	// queue, a file) it is what reading the log from the start leaves: a
	// key is held when its last message is not a delete.
	Held func() map[string]bool
}

// Harness adapts one destination to the suite.
type Harness struct {
	Plugin connector.DestinationPlugin
	// Start starts a fresh emulator for one scenario.
	Start func(t *testing.T) Emulator
	// Target is the sync the scenarios run: object, identifier, fields.
	// Its PrimaryKey is the identifier, so a record's key is its
	// identifier value and deletes can address it.
	Target connector.Target
	// Record builds valid record i (op upsert), Bad a record the vendor
	// refuses on its own (an invalid email, say).
	Record func(i int) connector.Record
	Bad    func(i int) connector.Record
	// ID is record i's identifier value, as Held reports it.
	ID func(i int) string
	// Oversized builds a batch over the vendor's limits when the limit is
	// not simply BatchSize records (a byte limit); nil sends BatchSize+1
	// valid records.
	Oversized func() []connector.Record
	// NoMirror skips the delete scenario; NoOversize the oversized batch
	// (a destination that sends one record per request has none).
	NoMirror   bool
	NoOversize bool
	// Skip declares the scenarios (by name: "row refused", "429 storm" …)
	// that cannot apply to the destination, each with the reason the
	// suite prints when skipping it.
	Skip map[string]string
	// RetryWait, when set, is how long the delivery layer really waits
	// between attempts (otherwise not at all): for clients that reconnect
	// in the background on their own clock (NATS), so a scenario does not
	// depend on how fast the retries come.
	RetryWait time.Duration
}

// Scenarios names the suite's scenarios, in the order they run.
var Scenarios = []string{"first sync", "update", "delete", "row refused", "429 storm", "5xx", "auth revoked", "oversized batch"}

// Run runs every scenario for a destination.
//
// It returns the scenarios that ran and passed, so that a destination's
// test can say which it expects to hold.
func Run(t *testing.T, h Harness) (passed []string) {
	t.Helper()
	for name, why := range h.Skip {
		if !slices.Contains(Scenarios, name) {
			t.Fatalf("harness skips %q, which is not a scenario (%s)", name, strings.Join(Scenarios, ", "))
		}
		if why == "" {
			t.Fatalf("harness skips %q without saying why", name)
		}
	}
	scenarios := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"first sync", firstSync},
		{"update", update},
		{"delete", deleteRows},
		{"row refused", rowRefused},
		{"429 storm", storm(429)},
		{"5xx", storm(503)},
		{"auth revoked", authRevoked},
		{"oversized batch", oversized},
	}
	for _, sc := range scenarios {
		ran := false
		ok := t.Run(sc.name, func(t *testing.T) {
			if why, ok := h.Skip[sc.name]; ok {
				t.Skip(why)
			}
			ran = true
			sc.run(t, h)
		})
		if ran && ok {
			passed = append(passed, sc.name)
		}
	}
	return passed
}

const rows = 7 // more than one batch for the small batch sizes, few requests

// open builds the destination and its delivery policy, with waits that
// take no time.
func open(t *testing.T, h Harness, settings connector.Settings, mode string) (connector.Destination, delivery.Policy) {
	return openRun(t, h, settings, mode, "suite-run")
}

// openRun opens the destination for a given run: a later run is a new
// destination instance with its own run ID, as the engine makes one.
func openRun(t *testing.T, h Harness, settings connector.Settings, mode, runID string) (connector.Destination, delivery.Policy) {
	t.Helper()
	dst, p, err := tryOpen(t, h, settings, mode, runID)
	if err != nil {
		t.Fatalf("open %s: %v", h.Plugin.Spec.Type, err)
	}
	return dst, p
}

// tryOpen opens the destination, returning the error of a destination
// that checks its connection (and so its credentials) when it opens.
func tryOpen(t *testing.T, h Harness, settings connector.Settings, mode, runID string) (connector.Destination, delivery.Policy, error) {
	t.Helper()
	target := h.Target
	target.Mode = mode
	target.RunID = runID
	if target.Sync == "" {
		target.Sync = "suite"
	}
	settings = h.Plugin.Spec.WithDefaults(settings)
	dst, err := h.Plugin.New(context.Background(), settings, target, t.TempDir())
	if err != nil {
		return nil, delivery.Policy{}, err
	}
	// Closed once, by the scenario ending the run or else by the cleanup;
	// the destination itself is handed to delivery unwrapped, so the
	// optional interfaces it implements are seen.
	closeOnce := sync.OnceValue(func() error { return dst.Close(context.Background()) })
	closers.Store(dst, closeOnce)
	t.Cleanup(func() { closeOnce(); closers.Delete(dst) })
	p := delivery.FromLimits(h.Plugin.Spec.Limits)
	p.BatchSize = min(p.BatchSize, 3) // several batches out of a few rows
	p.Sleep = func(ctx context.Context, _ time.Duration) error {
		if h.RetryWait == 0 {
			return ctx.Err()
		}
		select {
		case <-time.After(h.RetryWait):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return dst, p, nil
}

// testWriter writes the delivery layer's log (retries and why) to the
// test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// closers holds each open destination's close-once function.
var closers sync.Map

// end ends the destination's run as the engine does, with Close: a
// deferred destination's records become durable only then, so what the
// destination holds is read after it.
func end(t *testing.T, dst connector.Destination) {
	t.Helper()
	c, ok := closers.Load(dst)
	if !ok {
		t.Fatalf("end: %T was not opened by the suite", dst)
	}
	if err := c.(func() error)(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// deliver sends records and returns which keys failed, with the error
// that stopped the delivery, if any.
func deliver(t *testing.T, dst connector.Destination, p delivery.Policy, recs []connector.Record) (map[string]string, error) {
	t.Helper()
	in := make(chan delivery.Item)
	go func() {
		defer close(in)
		for i, r := range recs {
			in <- delivery.Item{Record: r, Ref: int64(i)}
		}
	}()
	failed := map[string]string{}
	st, err := delivery.Deliver(context.Background(), dst, p, in, func(r delivery.Result) error {
		for i, msg := range r.Failed {
			failed[r.Items[i].Record.Key] = msg
		}
		return nil
	})
	for range in {
	}
	t.Logf("delivered %d records: %d requests, %d retries, %d splits", len(recs), st.Requests, st.Retries, st.Splits)
	return failed, err
}

func records(h Harness, n int) []connector.Record {
	out := make([]connector.Record, n)
	for i := range out {
		out[i] = h.Record(i)
	}
	return out
}

func wantHeld(t *testing.T, e Emulator, h Harness, want []int, not []int) {
	t.Helper()
	held := e.Held()
	for _, i := range want {
		if !held[h.ID(i)] {
			t.Errorf("%s is not held; the emulator holds %d records", h.ID(i), len(held))
		}
	}
	for _, i := range not {
		if held[h.ID(i)] {
			t.Errorf("%s is still held", h.ID(i))
		}
	}
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func firstSync(t *testing.T, h Harness) {
	e := h.Start(t)
	dst, p := open(t, h, e.Settings, "upsert")
	failed, err := deliver(t, dst, p, records(h, rows))
	if err != nil || len(failed) > 0 {
		t.Fatalf("delivery: %v, failed %v", err, failed)
	}
	end(t, dst)
	wantHeld(t, e, h, all(rows), nil)
}

func update(t *testing.T, h Harness) {
	e := h.Start(t)
	dst, p := open(t, h, e.Settings, "upsert")
	if failed, err := deliver(t, dst, p, records(h, rows)); err != nil || len(failed) > 0 {
		t.Fatalf("first delivery: %v, failed %v", err, failed)
	}
	// The same records again: updates of what is held, nothing refused.
	failed, err := deliver(t, dst, p, records(h, rows))
	if err != nil || len(failed) > 0 {
		t.Fatalf("update: %v, failed %v", err, failed)
	}
	end(t, dst)
	if held := e.Held(); len(held) != rows {
		t.Errorf("after updating %d records the emulator holds %d", rows, len(held))
	}
}

func deleteRows(t *testing.T, h Harness) {
	if h.NoMirror {
		t.Skip("the destination offers no mirror mode")
	}
	e := h.Start(t)
	dst, p := open(t, h, e.Settings, "mirror")
	if failed, err := deliver(t, dst, p, records(h, rows)); err != nil || len(failed) > 0 {
		t.Fatalf("first delivery: %v, failed %v", err, failed)
	}
	end(t, dst)
	// The rows are gone from the model at the next run.
	var dels []connector.Record
	for _, i := range []int{1, 4} {
		dels = append(dels, connector.Record{Op: connector.OpDelete, Key: h.ID(i), KeyParts: []string{h.ID(i)}})
	}
	next, p := openRun(t, h, e.Settings, "mirror", "suite-run-2")
	failed, err := deliver(t, next, p, dels)
	if err != nil || len(failed) > 0 {
		t.Fatalf("delete: %v, failed %v", err, failed)
	}
	end(t, next)
	wantHeld(t, e, h, []int{0, 2, 3, 5, 6}, []int{1, 4})
}

func rowRefused(t *testing.T, h Harness) {
	if h.Bad == nil {
		t.Fatal("the harness builds no Bad record: give one the destination refuses, or declare \"row refused\" in Skip with the reason")
	}
	e := h.Start(t)
	dst, p := open(t, h, e.Settings, "upsert")
	recs := records(h, rows)
	bad := h.Bad(rows)
	recs = slices.Insert(recs, 2, bad)
	failed, err := deliver(t, dst, p, recs)
	if err != nil {
		t.Fatalf("delivery stopped: %v", err)
	}
	if len(failed) != 1 || failed[bad.Key] == "" {
		t.Fatalf("failed %v, want only %s with the vendor's message", failed, bad.Key)
	}
	end(t, dst)
	wantHeld(t, e, h, all(rows), nil)
}

func storm(status int) func(t *testing.T, h Harness) {
	return func(t *testing.T, h Harness) {
		e := h.Start(t)
		if e.FailNext == nil {
			t.Fatalf("the harness cannot inject failures: give FailNext, or declare the storm scenarios in Skip with the reason")
		}
		dst, p := open(t, h, e.Settings, "upsert")
		e.FailNext(status, status, status)
		failed, err := deliver(t, dst, p, records(h, rows))
		if err != nil || len(failed) > 0 {
			t.Fatalf("after %d answers %d: %v, failed %v", 3, status, err, failed)
		}
		end(t, dst)
		if e.Injected != nil && e.Injected() == 0 {
			t.Fatalf("the destination never ran into the injected failures (%d)", status)
		}
		wantHeld(t, e, h, all(rows), nil)
	}
}

// authRevoked: a destination that checks its connection when it opens
// may refuse bad credentials there, failing the run before it sends
// anything; otherwise the first batch's refusal stops the delivery.
func authRevoked(t *testing.T, h Harness) {
	e := h.Start(t)
	if e.BadCredentials == nil {
		t.Fatal("the harness gives no BadCredentials: give settings with a wrong secret, or declare \"auth revoked\" in Skip with the reason")
	}
	dst, p, err := tryOpen(t, h, e.BadCredentials, "upsert", "suite-run")
	if err != nil {
		t.Logf("refused at open: %v", err)
		if e.Refusal == "" || !strings.Contains(err.Error(), e.Refusal) {
			t.Errorf("open with bad credentials: %v; want the server's refusal (the harness's Refusal: %q)", err, e.Refusal)
		}
	} else {
		_, err = deliver(t, dst, p, records(h, rows))
		if err == nil || !connector.IsAuth(err) && !strings.Contains(err.Error(), "authentication") {
			t.Fatalf("delivery with bad credentials: %v, want an authentication failure that stops the run", err)
		}
		end(t, dst)
	}
	if e.BadSecret != "" && strings.Contains(fmt.Sprint(err), e.BadSecret) {
		t.Errorf("the error shows the secret: %v", err)
	}
	if held := e.Held(); len(held) != 0 {
		t.Errorf("the emulator holds %d records sent with bad credentials", len(held))
	}
}

func oversized(t *testing.T, h Harness) {
	if h.NoOversize {
		t.Skip("the destination sends one record per request")
	}
	e := h.Start(t)
	dst, _ := open(t, h, e.Settings, "upsert")
	recs := records(h, h.Plugin.Spec.Limits.BatchSize+1)
	if h.Oversized != nil {
		recs = h.Oversized()
	}
	b := &connector.Batch{Seq: 1, Records: recs}
	err := dst.Write(context.Background(), b)
	var re *connector.RequestError
	if !errors.As(err, &re) || re.Retryable || re.Auth {
		t.Fatalf("a batch of %d records over the vendor's limits: %v, want a refusal as a non-retryable request error (the engine then splits it)", len(recs), err)
	}
	t.Logf("refused: %v", err)
	end(t, dst)
	if held := e.Held(); len(held) != 0 {
		t.Errorf("the emulator holds %d records of a refused batch", len(held))
	}
}

// Keys gives the identifier values of held records as a set.
func Keys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
