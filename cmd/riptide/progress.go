package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// observer shows a run's progress: a progress bar on a terminal, a log
// line every few seconds otherwise, nothing with --json.
type observer struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	quiet    bool
	bar      *progressbar.ProgressBar
	barFor   string
	lastLine time.Time
	started  map[string]time.Time
	// phaseEnd is when the last phase ended: the start of the next one.
	phaseEnd time.Time
}

func newObserver(w io.Writer, quiet bool) *observer {
	f, ok := w.(*os.File)
	tty := ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
	return &observer{w: w, tty: tty, quiet: quiet, started: map[string]time.Time{}, phaseEnd: time.Now()}
}

func (o *observer) rate(key string, n uint64) float64 {
	start, ok := o.started[key]
	if !ok {
		start = o.phaseEnd
		o.started[key] = start
	}
	secs := max(time.Since(start).Seconds(), 1e-3)
	return float64(n) / secs
}

func (o *observer) Extracting(model string, rows uint64, done bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.quiet {
		return
	}
	key := "extract " + model
	if o.tty {
		o.ensureBar(key, -1)
		_ = o.bar.Set64(int64(rows))
		if done {
			o.finishBar()
			fmt.Fprintf(o.w, "extracted %s: %d rows\n", model, rows)
		}
		return
	}
	r := o.rate(key, rows)
	if done {
		o.phaseEnd = time.Now()
	}
	if done || time.Since(o.lastLine) > 2*time.Second {
		o.lastLine = time.Now()
		fmt.Fprintf(o.w, "extract %s: %d rows (%.0f rows/s)%s\n", model, rows, r, map[bool]string{true: " done"}[done])
	}
}

func (o *observer) Loading(sync string, delivered, total uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.quiet {
		return
	}
	key := "load " + sync
	if o.tty {
		o.ensureBar(key, int64(total))
		_ = o.bar.Set64(int64(delivered))
		return
	}
	r := o.rate(key, delivered)
	if delivered == total {
		o.phaseEnd = time.Now()
	}
	if delivered == total || time.Since(o.lastLine) > 2*time.Second {
		o.lastLine = time.Now()
		fmt.Fprintf(o.w, "load %s: %d/%d rows (%.0f rows/s)\n", sync, delivered, total, r)
	}
}

// ensureBar shows a bar for key (its description), replacing the bar of
// another phase; total -1 is a counter without an end.
func (o *observer) ensureBar(key string, total int64) {
	if o.barFor == key {
		return
	}
	o.finishBar()
	o.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(o.w),
		progressbar.OptionSetDescription(key),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	o.barFor = key
}

func (o *observer) finishBar() {
	if o.bar != nil {
		_ = o.bar.Finish()
		o.bar = nil
		o.barFor = ""
	}
}

func (o *observer) done() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finishBar()
}
