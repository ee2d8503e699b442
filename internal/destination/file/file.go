// Package file is the file destination: each run of a sync writes one
// CSV or JSON Lines file into a directory. The file appears, complete,
// only when the run's writer closes: records are written to a hidden
// temporary file that is renamed into place at the end.
package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/riptide-data/riptide/internal/connector"
)

const (
	formatCSV   = "csv"
	formatJSONL = "jsonl"
)

// Plugin returns the file destination type.
func Plugin() connector.DestinationPlugin {
	return connector.DestinationPlugin{Spec: spec(), New: newDestination}
}

func spec() connector.Spec {
	return connector.Spec{
		Type:    "file",
		Summary: "Write each run's records to one CSV or JSON Lines file in a directory.",
		Fields: []connector.Field{
			{Name: "path", Kind: connector.KindString, Required: true,
				Doc: "Directory for the files, relative to the project directory; created if missing."},
			{Name: "format", Kind: connector.KindString, Default: formatJSONL, Enum: []string{formatCSV, formatJSONL},
				Doc: "jsonl: one JSON object per record; csv: a header row, then one row per record."},
		},
		Limits:   connector.Limits{BatchSize: 10000, Concurrency: 1},
		Modes:    []string{"upsert", "insert", "update", "mirror"},
		Deferred: true,
	}
}

type destination struct {
	format string
	fields []string
	dir    string
	final  string // <dir>/<sync>-<run id>.<ext>
	tmp    string // <dir>/.<sync>-<run id>.<ext>.tmp

	mu sync.Mutex
	f  *os.File // nil until the first record arrives
	w  *bufio.Writer
	// failed is set when a write to the file failed part-way: the file
	// then holds an unknown part of a batch, so nothing more may be
	// written and Close must not publish it.
	failed error
	closed bool
}

func newDestination(_ context.Context, set connector.Settings, target connector.Target, projectDir string) (connector.Destination, error) {
	if err := spec().Check(set); err != nil {
		return nil, err
	}
	format := set.String("format")
	if format == "" {
		format = formatJSONL
	}
	for what, name := range map[string]string{"sync name": target.Sync, "run ID": target.RunID} {
		if err := checkNamePart(name); err != nil {
			return nil, fmt.Errorf("file destination: %s %q cannot be part of a file name: %w", what, name, err)
		}
	}
	dir := set.String("path")
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(projectDir, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("file destination: create directory: %w", err)
	}
	if err := removeStale(dir, target.Sync); err != nil {
		return nil, fmt.Errorf("file destination: %w", err)
	}
	name := target.Sync + "-" + target.RunID + "." + format
	return &destination{
		format: format,
		fields: target.Fields,
		dir:    dir,
		final:  filepath.Join(dir, name),
		tmp:    filepath.Join(dir, "."+name+".tmp"),
	}, nil
}

func checkNamePart(s string) error {
	switch {
	case s == "":
		return errors.New("it is empty")
	case strings.ContainsAny(s, `/\`+"\x00"):
		return errors.New("it holds a path separator")
	case strings.HasPrefix(s, "."):
		return errors.New("it starts with a dot")
	}
	return nil
}

// removeStale deletes the temporary files that earlier runs of the sync
// left behind when their process died before closing. A file still
// locked by a live writer (another run whose sync name starts the same
// way) is left alone.
func removeStale(dir, sync string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	prefix := "." + sync + "-"
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		if err := removeIfUnlocked(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("remove stale temporary file: %w", err)
		}
	}
	return nil
}

func removeIfUnlocked(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	free, err := tryLock(f)
	if err != nil || !free {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Write appends a batch to the temporary file. The batch is encoded in
// full before any of it is written, so a record that cannot be encoded
// leaves the file untouched.
func (d *destination) Write(_ context.Context, b *connector.Batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return errors.New("file destination: write after close")
	case d.failed != nil:
		return fmt.Errorf("file destination: an earlier write to %s failed: %w", d.tmp, d.failed)
	case len(b.Records) == 0:
		return nil
	}
	var buf []byte
	var err error
	if d.format == formatCSV {
		buf, err = encodeCSV(d.f == nil, d.fields, b.Records)
	} else {
		buf, err = encodeJSONL(d.fields, b.Records)
	}
	if err != nil {
		return &connector.RequestError{Message: err.Error()}
	}
	if d.f == nil {
		if err := d.open(); err != nil {
			return err
		}
	}
	if _, err := d.w.Write(buf); err != nil {
		d.failed = err
		return fmt.Errorf("file destination: write batch %d to %s: %w", b.Seq, d.tmp, err)
	}
	return nil
}

// open creates and locks the temporary file. Another run's sweep of
// stale files may remove it between creation and locking; the locked
// file is checked to still be the one at the path.
func (d *destination) open() error {
	for range 3 {
		f, err := os.OpenFile(d.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("file destination: create %s: %w", d.tmp, err)
		}
		locked, err := tryLock(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("file destination: lock %s: %w", d.tmp, err)
		}
		held, _ := f.Stat()
		atPath, statErr := os.Stat(d.tmp)
		if locked && statErr == nil && os.SameFile(held, atPath) {
			d.f, d.w = f, bufio.NewWriterSize(f, 256<<10)
			return nil
		}
		f.Close()
	}
	return fmt.Errorf("file destination: %s was removed while being created", d.tmp)
}

// Close publishes the file: flush, fsync, rename into place, fsync the
// directory so the rename survives a crash. A run that wrote no records
// leaves no file; a run whose file cannot be finished leaves none either.
func (d *destination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.f == nil {
		return nil
	}
	if err := d.finish(); err != nil {
		_ = os.Remove(d.tmp)
		return fmt.Errorf("file destination: finish %s: %w", d.final, err)
	}
	return nil
}

// finish flushes and syncs the temporary file and renames it into place.
// Where temporary files are locked, the rename happens while the lock is
// still held, so no other run's sweep can take the file for a stale one.
func (d *destination) finish() error {
	err := d.failed
	if err == nil {
		err = d.w.Flush()
	}
	if err == nil {
		err = d.f.Sync()
	}
	if err == nil && lockSupported {
		err = os.Rename(d.tmp, d.final)
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if !lockSupported {
		if err := os.Rename(d.tmp, d.final); err != nil {
			return err
		}
	}
	if err := syncDir(d.dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", d.dir, err)
	}
	return nil
}
