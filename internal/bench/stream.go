package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

// StreamConfig is what `riptide bench stream` is asked for.
type StreamConfig struct {
	// Riptide is the riptide binary the follow runs as (`run --follow`),
	// as an operator would run it.
	Riptide string
	// AdminURL is the PostgreSQL connection the bench's database is
	// created through (and dropped through at the end).
	AdminURL string
	// Rate is the changes per second committed.
	Rate int
	// PerTx is how many changes each transaction commits (default 1): a
	// writer committing rows in groups, as batch jobs and most
	// applications under load do.
	PerTx int
	// Duration is how long changes are committed.
	Duration time.Duration
	// Connections commit changes in parallel, so that one commit's round
	// trip and WAL flush do not bound the rate.
	Connections int
	// Drain is how long to wait, after the last commit, for the receiver
	// to make progress before the changes still missing count as lost.
	Drain time.Duration
}

// StreamResult is what `riptide bench stream` reports: the latency from a
// change's commit in PostgreSQL to the webhook receiver holding it.
type StreamResult struct {
	Rate        int     `json:"rate"`
	PerTx       int     `json:"changes_per_transaction"`
	Seconds     float64 `json:"seconds"`
	Connections int     `json:"connections"`
	// Database is the one created for the run and dropped after it.
	Database string `json:"database"`
	// Sent is the changes committed: Inserts of new rows and Updates of
	// a row inserted about a second earlier.
	Sent    int `json:"sent"`
	Inserts int `json:"inserts"`
	Updates int `json:"updates"`
	// AchievedRate is Sent over the sending time: below Rate when
	// PostgreSQL could not commit that fast.
	AchievedRate float64 `json:"achieved_rate"`
	// Received is the changes the receiver got, Superseded of them only
	// through a later change of the same row (the stream sends the last
	// state of a row changed twice within one delivery); Lost never
	// arrived.
	Received   int `json:"received"`
	Superseded int `json:"superseded"`
	Lost       int `json:"lost"`
	// Records and Requests are what the receiver accepted.
	Records  int `json:"records"`
	Requests int `json:"requests"`
	// Latency from the client's clock right after COMMIT returned to the
	// receiver's clock when the request carrying the change (or a later
	// change of its row) arrived; both are this process's.
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// DrainSeconds is how long after the last commit the last change
	// arrived.
	DrainSeconds float64 `json:"drain_seconds"`
	// BatchSize and Concurrency are the webhook destination's (its
	// defaults).
	BatchSize   int `json:"batch_size"`
	Concurrency int `json:"concurrency"`
}

// streamSync is the bench project's sync; streamTable its table.
const (
	streamSync  = "bench_stream"
	streamTable = "bench_events"
)

// sentChange is one committed change: the row's key, the change's
// sequence number (carried in the row) and when COMMIT returned.
type sentChange struct {
	id, seq   int64
	committed time.Time
}

// arrival is one record as the receiver accepted it.
type arrival struct {
	seq int64
	at  time.Time
}

// Stream creates a database with one table, follows it with `riptide run
// --follow` into a webhook receiver in this process, commits changes at
// cfg.Rate for cfg.Duration and measures, per change, how long after its
// commit the receiver had it. The database and the follow's replication
// slot are dropped at the end.
func Stream(ctx context.Context, cfg StreamConfig) (*StreamResult, error) {
	switch {
	case cfg.Rate < 1:
		return nil, fmt.Errorf("--rate %d: need at least 1 change per second", cfg.Rate)
	case cfg.Duration <= 0:
		return nil, fmt.Errorf("--duration %s: need a positive duration", cfg.Duration)
	case cfg.Connections < 1:
		return nil, fmt.Errorf("--connections %d: need at least 1", cfg.Connections)
	case cfg.Drain <= 0:
		return nil, fmt.Errorf("--drain %s: need a positive duration", cfg.Drain)
	}
	dbURL, dbName, dropDB, err := TempPostgres(ctx, cfg.AdminURL)
	if err != nil {
		return nil, err
	}
	defer dropDB()
	// The follow's slot outlives its process and would keep WAL forever;
	// it goes before the database (which takes the publication with it).
	defer dropSlots(cfg.AdminURL, dbName)

	setup, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the bench database: %w", err)
	}
	_, err = setup.Exec(ctx, "CREATE TABLE "+streamTable+" (id bigint PRIMARY KEY, seq bigint NOT NULL, note text NOT NULL)")
	setup.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("create table %s: %w", streamTable, err)
	}

	recv := newStreamReceiver()
	if err := recv.listen(); err != nil {
		return nil, err
	}
	defer recv.close()

	dir, err := os.MkdirTemp("", "riptide-bench-stream-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "riptide.yaml"), []byte(streamProject(dbURL, recv.url)), 0o644); err != nil {
		return nil, fmt.Errorf("write the bench project: %w", err)
	}
	f, err := startFollow(ctx, cfg.Riptide, dir)
	if err != nil {
		return nil, err
	}
	defer f.stop()

	res := &StreamResult{Rate: cfg.Rate, PerTx: max(cfg.PerTx, 1), Connections: cfg.Connections, Database: dbName, BatchSize: 100, Concurrency: 4}
	sent, sendSecs, err := commitChanges(ctx, dbURL, cfg, res)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, f.logs())
	}
	res.Seconds = sendSecs
	res.Sent = len(sent)
	res.AchievedRate = float64(len(sent)) / sendSecs
	lastCommit := time.Time{}
	for _, c := range sent {
		if c.committed.After(lastCommit) {
			lastCommit = c.committed
		}
	}

	// Wait until every change arrived, or the receiver stops making
	// progress for cfg.Drain.
	lastCount, lastProgress := -1, time.Now()
	for {
		n := recv.received(sent)
		if n == len(sent) {
			break
		}
		if n != lastCount {
			lastCount, lastProgress = n, time.Now()
		}
		if time.Since(lastProgress) > cfg.Drain || f.exited() {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := f.stop(); err != nil {
		return nil, fmt.Errorf("riptide run --follow: %w%s", err, f.logs())
	}
	measure(res, sent, recv, lastCommit)
	if res.Lost > 0 {
		return res, fmt.Errorf("%d of %d changes never reached the receiver%s", res.Lost, res.Sent, f.logs())
	}
	return res, nil
}

// streamProject is the bench's project: the table's every column, into
// the receiver, at the webhook destination's defaults.
func streamProject(dbURL, hookURL string) string {
	return fmt.Sprintf(`sources:
  pg: {type: postgres, url: %q}
destinations:
  hook: {type: webhook, url: %q}
models:
  events: {source: pg, primary_key: id, sql: "select id, seq, note from %s"}
syncs:
  %s: {model: events, destination: hook, mode: upsert, mapping: {seq: seq, note: note}}
`, dbURL, hookURL+"/ingest", streamTable, streamSync)
}

// commitChanges commits cfg.Rate changes a second for cfg.Duration from
// cfg.Connections connections, each change its own transaction (an
// autocommitted statement). Change n is due at n/Rate after the start; a
// connection that falls behind sends its next change at once. Even
// changes insert a row; odd ones update a row inserted about a second
// earlier (each row at most once), or insert while there is none yet.
func commitChanges(ctx context.Context, dbURL string, cfg StreamConfig, res *StreamResult) ([]sentChange, float64, error) {
	conns := make([]*pgx.Conn, cfg.Connections)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for i := range conns {
		c, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return nil, 0, fmt.Errorf("connect to the bench database: %w", err)
		}
		conns[i] = c
	}
	total := int64(cfg.Rate) * int64(cfg.Duration) / int64(time.Second)
	lag := 2 * max(int64(cfg.Rate)/2, 1)
	var (
		next     atomic.Int64
		updates  atomic.Int64
		mu       sync.Mutex
		all      = make([]sentChange, 0, total)
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []sentChange
			defer func() { mu.Lock(); all = append(all, mine...); mu.Unlock() }()
			per := int64(max(cfg.PerTx, 1))
			ids := make([]int64, 0, per)
			for sctx.Err() == nil {
				first := next.Add(per) - per
				if first >= total {
					return
				}
				last := min(first+per, total) - 1
				// A group is due when its last change is.
				if wait := time.Until(start.Add(time.Duration(last) * time.Second / time.Duration(cfg.Rate))); wait > 0 {
					select {
					case <-sctx.Done():
						return
					case <-time.After(wait):
					}
				}
				var err error
				if ids, err = commitGroup(sctx, conn, first, last, lag, ids[:0]); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("commit changes %d to %d: %w", first, last, err); cancel() })
					return
				}
				committed := time.Now()
				for i, id := range ids {
					n := first + int64(i)
					if id != n {
						updates.Add(1)
					}
					mine = append(mine, sentChange{id: id, seq: n, committed: committed})
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	res.Updates = int(updates.Load())
	res.Inserts = len(all) - res.Updates
	return all, secs, nil
}

// commitGroup commits changes first to last in one transaction (without
// one when there is a single change) and appends the keys of the rows
// they changed to ids.
func commitGroup(ctx context.Context, conn *pgx.Conn, first, last, lag int64, ids []int64) ([]int64, error) {
	if first == last {
		id, err := commitOne(ctx, conn, first, lag)
		return append(ids, id), err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return ids, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for n := first; n <= last; n++ {
		id, err := commitOne(ctx, tx.Conn(), n, lag)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, tx.Commit(ctx)
}

// commitOne makes change n and returns the key of the row it changed.
func commitOne(ctx context.Context, conn *pgx.Conn, n, lag int64) (int64, error) {
	note := fmt.Sprintf("change %d", n)
	if target := n - 1 - lag; n%2 == 1 && target >= 0 {
		tag, err := conn.Exec(ctx, "UPDATE "+streamTable+" SET seq = $1, note = $2 WHERE id = $3", n, note, target)
		if err != nil {
			return 0, err
		}
		if tag.RowsAffected() == 1 {
			return target, nil
		}
		// The row's insert, on another connection, has not committed yet
		// (a connection far behind): insert instead, the change counts the
		// same.
	}
	_, err := conn.Exec(ctx, "INSERT INTO "+streamTable+" (id, seq, note) VALUES ($1, $1, $2)", n, note)
	return n, err
}

// measure fills in the latencies: a change reached the receiver with the
// first record of its row carrying its sequence number or a later one.
func measure(res *StreamResult, sent []sentChange, recv *streamReceiver, lastCommit time.Time) {
	recv.mu.Lock()
	defer recv.mu.Unlock()
	res.Records, res.Requests = recv.records, recv.requests
	var (
		lat  = make([]time.Duration, 0, len(sent))
		last time.Time
	)
	for _, c := range sent {
		var got *arrival
		for i, a := range recv.byKey[c.id] {
			if a.seq >= c.seq && (got == nil || a.at.Before(got.at)) {
				got = &recv.byKey[c.id][i]
			}
		}
		if got == nil {
			res.Lost++
			continue
		}
		res.Received++
		if got.seq != c.seq {
			res.Superseded++
		}
		lat = append(lat, max(got.at.Sub(c.committed), 0))
		if got.at.After(last) {
			last = got.at
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50Ms, res.P95Ms, res.P99Ms = ms(pct(lat, 50)), ms(pct(lat, 95)), ms(pct(lat, 99))
		res.MaxMs = ms(lat[len(lat)-1])
	}
	if !last.IsZero() {
		res.DrainSeconds = max(last.Sub(lastCommit).Seconds(), 0)
	}
}

// streamReceiver is the webhook emulator with, in front of it, a record
// of when each accepted record arrived.
type streamReceiver struct {
	emu  *webhooktest.Server
	srv  *http.Server
	done chan struct{}
	url  string

	mu       sync.Mutex
	byKey    map[int64][]arrival
	records  int
	requests int
}

func newStreamReceiver() *streamReceiver {
	return &streamReceiver{emu: webhooktest.NewHandler(webhooktest.Discard()), byKey: map[int64][]arrival{}}
}

func (r *streamReceiver) listen() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the webhook receiver: %w", err)
	}
	r.url = "http://" + l.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		_ = r.srv.Serve(l) // ends on close; a failure shows as lost changes
	}()
	return nil
}

func (r *streamReceiver) close() {
	_ = r.srv.Close()
	<-r.done
}

// serve takes the arrival time before anything else, lets the emulator
// judge the request, and records its records only if it accepted them.
func (r *streamReceiver) serve(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w}
	r.emu.Handler().ServeHTTP(sw, req)
	if sw.status/100 != 2 {
		return
	}
	var batch struct {
		Records []struct {
			Key  string `json:"key"`
			Data struct {
				Seq int64 `json:"seq"`
			} `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		return // the emulator accepted it, so it decodes; nothing to record otherwise
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	for _, rec := range batch.Records {
		var id int64
		if _, err := fmt.Sscan(rec.Key, &id); err != nil {
			continue
		}
		r.byKey[id] = append(r.byKey[id], arrival{seq: rec.Data.Seq, at: at})
		r.records++
	}
}

// received counts the changes that have arrived so far.
func (r *streamReceiver) received(sent []sentChange) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range sent {
		for _, a := range r.byKey[c.id] {
			if a.seq >= c.seq {
				n++
				break
			}
		}
	}
	return n
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// followProc is `riptide run bench_stream --follow` running.
type followProc struct {
	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{}
	err  error
	once sync.Once
}

// startFollow starts the follow and waits until it streams (after its
// first batch run, of an empty table).
func startFollow(ctx context.Context, riptide, dir string) (*followProc, error) {
	cmd := exec.Command(riptide, "-p", dir, "run", streamSync, "--follow")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	f := &followProc{cmd: cmd, tail: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	cmd.Stderr = f.tail
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start riptide run --follow: %w", err)
	}
	following := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), streamSync+": following") {
				said = true
				close(following)
			}
		}
	}()
	go func() { f.err = cmd.Wait(); close(f.done) }()
	select {
	case <-following:
		return f, nil
	case <-f.done:
		return nil, fmt.Errorf("riptide run --follow exited before streaming: %v%s", f.err, f.logs())
	case <-time.After(60 * time.Second):
		f.stop()
		return nil, fmt.Errorf("riptide run --follow did not start streaming within 60s%s", f.logs())
	case <-ctx.Done():
		f.stop()
		return nil, ctx.Err()
	}
}

func (f *followProc) exited() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// stop asks the follow to stop as Ctrl-C does, and kills it if it does
// not within 30 s; it returns the error of a follow that failed.
func (f *followProc) stop() error {
	f.once.Do(func() {
		_ = f.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-f.done:
		case <-time.After(30 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.done
		}
	})
	<-f.done
	return f.err
}

func (f *followProc) logs() string {
	return "\n--- riptide run --follow, last logs:\n" + f.tail.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// dropSlots drops the replication slots of database db, which a stopped
// follow leaves behind on purpose (to resume from them).
func dropSlots(adminURL, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, `SELECT pg_catalog.pg_drop_replication_slot(slot_name)
		FROM pg_catalog.pg_replication_slots WHERE database = $1 AND NOT active`, db)
}
