package diff

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Storage keeps the durable copy of a snapshot away from the machine, so
// that a run can resume on another one (the PostgreSQL state store
// implements it). The snapshot's directory then becomes a cache: the merge
// still reads the base file sequentially from local disk, while every
// commit point writes through to the storage first.
//
// The storage holds, per snapshot, the head last published (opaque bytes
// of this package's making), the base of that generation, and the delta
// groups appended to it since, in order.
type Storage interface {
	// TryLock takes the snapshot's lock across processes and machines,
	// held until release is called; ok is false when another holds it.
	TryLock(ctx context.Context) (release func() error, ok bool, err error)
	// Head returns the head last published, nil when none ever was.
	Head(ctx context.Context) ([]byte, error)
	// ReadBase writes the base of generation gen to w.
	ReadBase(ctx context.Context, gen uint64, w io.Writer) error
	// Deltas calls fn with every group appended to generation gen, in
	// the order they were appended.
	Deltas(ctx context.Context, gen uint64, fn func(group []byte) error) error
	// AppendDelta durably appends a group to generation gen's delta; it
	// fails when gen is no longer the published generation.
	AppendDelta(ctx context.Context, gen uint64, group []byte) error
	// Publish makes gen, with its base read from base (nil for an empty
	// generation), the published generation with the given head, and
	// drops every other generation and every delta, all at once.
	Publish(ctx context.Context, gen uint64, head []byte, base io.Reader) error
}

// storageTimeout bounds each call to the storage: commit points have no
// context of their own, and a batch the destination acknowledged must be
// recorded even while the run is being cancelled, so calls run on the
// opening context without its cancellation.
const storageTimeout = 2 * time.Minute

// remoteHead is what a published head holds: enough to tell whether a
// cached base is the published one.
type remoteHead struct {
	Generation uint64 `json:"generation"`
	Entries    uint64 `json:"entries"`
	Checksum   uint64 `json:"checksum"`
}

// OpenWith opens the snapshot in dir like Open, with storage as its
// durable copy: the lock is storage's (as well as the directory's), the
// directory is checked against the published generation and rebuilt from
// storage when it is missing, stale or behind, and every delta group and
// compaction is written to storage before it counts. A nil storage is
// Open.
func OpenWith(ctx context.Context, dir string, storage Storage) (*Snapshot, error) {
	if storage == nil {
		return Open(dir)
	}
	return open(ctx, dir, storage)
}

func (s *Snapshot) storageCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, storageTimeout)
}

// syncFromStorage makes the directory hold the published generation and
// its delta, fetching what it lacks. A storage that has never seen this
// snapshot is seeded with the directory's (a project moving from the
// embedded store keeps its snapshots).
func (s *Snapshot) syncFromStorage() error {
	ctx, cancel := s.storageCtx()
	defer cancel()
	b, err := s.remote.Head(ctx)
	if err != nil {
		return fmt.Errorf("read snapshot head: %w", err)
	}
	if b == nil {
		if err := s.Compact(); err != nil {
			return err
		}
		return s.publish(s.gen, s.entries)
	}
	var h remoteHead
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("snapshot head in storage is corrupt: %w", err)
	}
	if !s.cached(h) {
		if err := s.fetchBase(ctx, h); err != nil {
			return err
		}
	}
	return s.fetchDelta(ctx, h.Generation)
}

// cached reports whether the directory's base is the published one.
func (s *Snapshot) cached(h remoteHead) bool {
	if s.gen != h.Generation || s.entries != h.Entries {
		return false
	}
	if h.Generation == 0 {
		return true
	}
	count, sum, err := baseFooter(s.basePath(h.Generation))
	return err == nil && count == h.Entries && sum == h.Checksum
}

// baseFooter reads a base file's entry count and checksum.
func baseFooter(path string) (count, checksum uint64, err error) {
	br, err := openBase(path)
	if err != nil {
		return 0, 0, err
	}
	defer br.close()
	return br.remain, br.want, nil
}

func (s *Snapshot) fetchBase(ctx context.Context, h remoteHead) error {
	if h.Generation > 0 {
		path := s.basePath(h.Generation)
		tmp := path + ".tmp"
		if err := writeFileFrom(tmp, func(w io.Writer) error { return s.remote.ReadBase(ctx, h.Generation, w) }); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("fetch snapshot generation %d: %w", h.Generation, err)
		}
		if count, sum, err := baseFooter(tmp); err != nil || count != h.Entries || sum != h.Checksum {
			os.Remove(tmp)
			return fmt.Errorf("fetch snapshot generation %d: the stored base does not match its head (%d entries, checksum %x): %v", h.Generation, count, sum, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("fetch snapshot generation %d: %w", h.Generation, err)
		}
	}
	if err := s.writeCurrent(current{Generation: h.Generation, Entries: h.Entries}); err != nil {
		return err
	}
	s.gen, s.entries = h.Generation, h.Entries
	return nil
}

// fetchDelta replaces the directory's delta log with the stored groups:
// storage is the record of what was committed, and a group written here
// but not there did not count.
func (s *Snapshot) fetchDelta(ctx context.Context, gen uint64) error {
	path := s.deltaPath(gen)
	tmp := path + ".tmp"
	groups := 0
	err := writeFileFrom(tmp, func(w io.Writer) error {
		return s.remote.Deltas(ctx, gen, func(group []byte) error {
			groups++
			_, err := w.Write(group)
			return err
		})
	})
	if err == nil && groups == 0 {
		os.Remove(tmp)
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("fetch snapshot delta: %w", err)
		}
		return nil
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("fetch snapshot delta: %w", err)
	}
	return nil
}

// writeFileFrom writes a file through fill and makes it durable.
func writeFileFrom(path string, fill func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	if err := fill(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// publish stores generation gen (its base file, when gen > 0) as the
// published one.
func (s *Snapshot) publish(gen, entries uint64) error {
	h := remoteHead{Generation: gen, Entries: entries}
	var base io.Reader
	if gen > 0 {
		f, err := os.Open(s.basePath(gen))
		if err != nil {
			return fmt.Errorf("publish snapshot: %w", err)
		}
		defer f.Close()
		if _, h.Checksum, err = baseFooter(s.basePath(gen)); err != nil {
			return fmt.Errorf("publish snapshot: %w", err)
		}
		base = bufio.NewReaderSize(f, 256<<10)
	}
	b, _ := json.Marshal(h)
	ctx, cancel := s.storageCtx()
	defer cancel()
	if err := s.remote.Publish(ctx, gen, b, base); err != nil {
		return fmt.Errorf("publish snapshot generation %d: %w", gen, err)
	}
	return nil
}

// appendRemote records a delta group in storage before it counts.
func (d *DeltaWriter) appendRemote(group []byte) error {
	if d.snap == nil || d.snap.remote == nil {
		return nil
	}
	ctx, cancel := d.snap.storageCtx()
	defer cancel()
	return d.snap.remote.AppendDelta(ctx, d.gen, group)
}

// Each calls fn with every entry of the snapshot's base in order (a
// snapshot just opened or compacted has no delta beside it). The entry's
// Key is fn's to keep.
func (s *Snapshot) Each(fn func(Entry) error) error {
	br, err := s.reader()
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	defer br.close()
	for {
		e, ok, err := br.peek()
		if err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
		if !ok {
			return nil
		}
		e.Key = strings.Clone(e.Key)
		if err := fn(e); err != nil {
			return err
		}
		br.next()
	}
}
