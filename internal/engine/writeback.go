package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/diff"
	"github.com/riptide-data/riptide/internal/state"
)

// writeBackBatch is how many row outcomes go to the warehouse at a time:
// a run's outcomes are never held whole, only this many of them.
var writeBackBatch = 1000

// writeBack streams one sync run's row outcomes to its write_back table.
// Its methods are safe on a nil *writeBack (no write_back configured) and
// from the delivery callbacks' goroutines.
//
// A failure to write never fails the run: the first one stops the
// write-back, and endWriteBack reports it as the run's warning.
type writeBack struct {
	cfg    *config.WriteBack
	runID  string
	sync   string
	src    connector.Source
	writer connector.OutcomeWriter
	redact func(string) string

	mu  sync.Mutex
	buf []connector.Outcome
	// provisional holds the delivered rows of a deferred destination
	// (file), which become final only when the destination closes.
	provisional *outcomeSpool
	deferred    bool
	written     uint64
	dropped     uint64
	err         error
}

// startWriteBack opens the sync's write_back source, when it has one, and
// writes the rows the model rejected; the sync's delivery then adds its
// own outcomes as they arrive.
func (e *Engine) startWriteBack(ctx context.Context, sr *syncRun, rej *rejections) {
	cfg := sr.sync.WriteBack
	if cfg == nil {
		return
	}
	wb := &writeBack{cfg: cfg, runID: sr.run.ID, sync: sr.sync.Name, redact: e.Redactor.String}
	sr.wb = wb
	wb.err = e.openWriteBack(ctx, wb)
	if wb.err != nil {
		return
	}
	if rej.spool != nil {
		err := rej.spool.each(func(o connector.Outcome) error {
			wb.add(ctx, o.Key, "", connector.OutcomeRejected, o.Error, o.At)
			return nil
		})
		if err != nil {
			wb.fail(fmt.Errorf("read back rejected rows: %w", err))
		}
	}
	if rej.spoolErr != nil {
		wb.fail(fmt.Errorf("set rejected rows aside: %w", rej.spoolErr))
	}
}

func (e *Engine) openWriteBack(ctx context.Context, wb *writeBack) error {
	srcCfg, ok := e.Project.Sources[wb.cfg.Source]
	if !ok {
		return fmt.Errorf("source %q is not defined", wb.cfg.Source)
	}
	plugin, ok := e.Sources[srcCfg.Type]
	if !ok {
		return fmt.Errorf("source %s: unknown type %q", srcCfg.Name, srcCfg.Type)
	}
	src, err := plugin.New(ctx, srcCfg.Settings, e.Project.Dir)
	if err != nil {
		return fmt.Errorf("source %s: %s", srcCfg.Name, e.Redactor.Error(err))
	}
	w, ok := src.(connector.OutcomeWriter)
	if !ok {
		src.Close()
		return fmt.Errorf("source %s (type %s) cannot be written to", srcCfg.Name, srcCfg.Type)
	}
	wb.src, wb.writer = src, w
	return nil
}

// setDeferred says that the sync's destination makes its rows durable
// only when it closes: delivered rows wait in a spool file until settle.
func (wb *writeBack) setDeferred(dir string, deferred bool) {
	if wb == nil || !deferred {
		return
	}
	wb.mu.Lock()
	defer wb.mu.Unlock()
	if wb.err != nil {
		return
	}
	spool, err := newOutcomeSpool(dir)
	if err != nil {
		wb.failLocked(fmt.Errorf("set delivered rows aside until the destination finishes: %w", err))
		return
	}
	wb.provisional, wb.deferred = spool, true
}

// add records one row's outcome.
func (wb *writeBack) add(ctx context.Context, key, op, status, msg string, at time.Time) {
	if wb == nil {
		return
	}
	wb.mu.Lock()
	defer wb.mu.Unlock()
	if wb.err != nil {
		wb.dropped++
		return
	}
	o := connector.Outcome{RunID: wb.runID, Sync: wb.sync, Key: key, Op: op, Status: status, Error: msg, At: at.UTC()}
	if wb.deferred && status == connector.OutcomeSucceeded {
		if err := wb.provisional.add(o); err != nil {
			wb.failLocked(fmt.Errorf("set delivered rows aside until the destination finishes: %w", err))
		}
		return
	}
	wb.buf = append(wb.buf, o)
	if len(wb.buf) >= writeBackBatch {
		wb.flushLocked(ctx)
	}
}

// settle makes a deferred destination's delivered rows final: succeeded
// when the destination finished, failed with why otherwise.
func (wb *writeBack) settle(ctx context.Context, why error) {
	if wb == nil {
		return
	}
	wb.mu.Lock()
	spool := wb.provisional
	wb.provisional, wb.deferred = nil, false
	wb.mu.Unlock()
	if spool == nil {
		return
	}
	defer spool.close()
	status, msg := connector.OutcomeSucceeded, ""
	if why != nil {
		status, msg = connector.OutcomeFailed, wb.redact(why.Error())
	}
	err := spool.each(func(o connector.Outcome) error {
		wb.add(ctx, o.Key, o.Op, status, msg, time.Now())
		return nil
	})
	if err != nil {
		wb.fail(fmt.Errorf("read back delivered rows: %w", err))
	}
}

func (wb *writeBack) flushLocked(ctx context.Context) {
	if len(wb.buf) == 0 || wb.err != nil {
		return
	}
	if err := wb.writer.WriteOutcomes(ctx, wb.cfg.Schema, wb.cfg.Table, wb.buf); err != nil {
		wb.failLocked(err)
		return
	}
	wb.written += uint64(len(wb.buf))
	wb.buf = wb.buf[:0]
}

func (wb *writeBack) fail(err error) {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	wb.failLocked(err)
}

func (wb *writeBack) failLocked(err error) {
	if wb.err == nil {
		wb.err = err
	}
	wb.dropped += uint64(len(wb.buf))
	wb.buf = nil
}

// endWriteBack flushes the sync's last outcomes and closes the write-back
// source. A failure is the run's warning: logged, stored with the run's
// row errors (phase write_back) and shown in the run's summary; the run's
// status stays what delivery made it.
func (e *Engine) endWriteBack(ctx context.Context, sr *syncRun) {
	wb := sr.wb
	if wb == nil {
		return
	}
	// Rows a deferred destination never got to finish are not durable.
	wb.settle(ctx, errors.New("the run ended before the destination finished its output"))
	wb.mu.Lock()
	wb.flushLocked(ctx)
	err, written, dropped := wb.err, wb.written, wb.dropped
	wb.mu.Unlock()
	if wb.src != nil {
		wb.src.Close()
	}
	if err == nil {
		return
	}
	where := wb.cfg.Source + " " + wb.cfg.Schema + "." + wb.cfg.Table
	msg := e.Redactor.String(fmt.Sprintf("write-back to %s failed after %d row outcomes (%d not written): %v; the sync's delivery is not affected",
		where, written, dropped, err))
	e.Logger.Warn("write back row outcomes", "sync", sr.sync.Name, "run", sr.run.ID, "error", msg)
	sr.result.Warnings = append(sr.result.Warnings, msg)
	rowErr := state.RowError{Phase: "write_back", Error: msg}
	if err := e.Store.AddRowErrors(ctx, sr.run.ID, sr.run.RowErrors, []state.RowError{rowErr}); err != nil {
		e.Logger.Warn("save write-back warning", "sync", sr.sync.Name, "error", err)
		return
	}
	sr.run.RowErrors++
}

// outcomeSpool is an append-only file of outcomes, read back in order:
// rejected rows, known while the model's source is still being read, and
// a deferred destination's rows, known final only at its end.
type outcomeSpool struct {
	f   *os.File
	w   *bufio.Writer
	enc *json.Encoder
}

func newOutcomeSpool(dir string) (*outcomeSpool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, diff.TempPrefix()+"outcomes-*")
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	return &outcomeSpool{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

// spooled is an outcome as the spool keeps it: what differs row by row.
type spooled struct {
	Key   string    `json:"k"`
	Op    string    `json:"o,omitempty"`
	Error string    `json:"e,omitempty"`
	At    time.Time `json:"t"`
}

func (s *outcomeSpool) add(o connector.Outcome) error {
	return s.enc.Encode(spooled{Key: o.Key, Op: o.Op, Error: o.Error, At: o.At})
}

// each reads the outcomes back in the order they were added.
func (s *outcomeSpool) each(fn func(connector.Outcome) error) error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := json.NewDecoder(bufio.NewReader(s.f))
	for {
		var sp spooled
		if err := dec.Decode(&sp); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		if err := fn(connector.Outcome{Key: sp.Key, Op: sp.Op, Error: sp.Error, At: sp.At}); err != nil {
			return err
		}
	}
	// Later adds append after what was read.
	_, err := s.f.Seek(0, io.SeekEnd)
	return err
}

func (s *outcomeSpool) close() {
	if s == nil {
		return
	}
	s.f.Close()
	os.Remove(s.f.Name())
}

// rejectionSpool sets a model's rejected rows aside for the syncs that
// write outcomes back, to be written once the model's source is closed
// (a warehouse may not take writes while its query streams); nil when no
// sync does.
func (e *Engine) rejectionSpool(runs []*syncRun, send bool) (*outcomeSpool, error) {
	if !send {
		return nil, nil
	}
	for _, sr := range runs {
		if sr.sync.WriteBack != nil && !sr.failed() {
			return newOutcomeSpool(e.tmpDir())
		}
	}
	return nil, nil
}

// spoolRejection keeps a rejected row for write-back.
func (r *rejections) spoolRejection(key, reason string) {
	if r.spool == nil || r.spoolErr != nil {
		return
	}
	r.spoolErr = r.spool.add(connector.Outcome{Key: key, Error: reason, At: time.Now()})
}
