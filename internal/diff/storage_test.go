package diff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// memStorage is a Storage in memory, standing for the shared state store
// the way the PostgreSQL one behaves (its own tests are in internal/state).
type memStorage struct {
	mu      sync.Mutex
	locked  bool
	head    []byte
	gen     uint64
	base    []byte
	deltas  [][]byte
	failAdd error // AppendDelta fails with it when set
}

func (m *memStorage) TryLock(context.Context) (func() error, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked {
		return nil, false, nil
	}
	m.locked = true
	return func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.locked = false
		return nil
	}, true, nil
}

func (m *memStorage) Head(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.head), nil
}

func (m *memStorage) ReadBase(_ context.Context, gen uint64, w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return fmt.Errorf("no generation %d", gen)
	}
	_, err := w.Write(m.base)
	return err
}

func (m *memStorage) Deltas(_ context.Context, gen uint64, fn func([]byte) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return nil
	}
	for _, d := range m.deltas {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStorage) AppendDelta(_ context.Context, gen uint64, group []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAdd != nil {
		return m.failAdd
	}
	if gen != m.gen || m.head == nil {
		return fmt.Errorf("generation %d is not the published one", gen)
	}
	m.deltas = append(m.deltas, bytes.Clone(group))
	return nil
}

func (m *memStorage) Publish(_ context.Context, gen uint64, head []byte, base io.Reader) error {
	var b []byte
	if base != nil {
		var err error
		if b, err = io.ReadAll(base); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.head, m.gen, m.base, m.deltas = bytes.Clone(head), gen, b, nil
	return nil
}

func entriesOf(t *testing.T, s *Snapshot) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	if err := s.Each(func(e Entry) error {
		if e.KeyHash != KeyHash(e.Key) {
			return fmt.Errorf("key %q has hash %x", e.Key, e.KeyHash)
		}
		out[e.Key] = e.RowHash
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func entry(key string, row uint64) Entry { return Entry{KeyHash: KeyHash(key), RowHash: row, Key: key} }

func commit(t *testing.T, s *Snapshot, set, del []Entry) {
	t.Helper()
	d, err := s.Delta("")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(set, del); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func openWith(t *testing.T, dir string, st Storage) *Snapshot {
	t.Helper()
	s, err := OpenWith(context.Background(), dir, st)
	if err != nil {
		t.Fatalf("OpenWith %s: %v", dir, err)
	}
	return s
}

// Two machines, each with its own cache directory, take turns on one
// snapshot; a machine that lost its cache, or whose cache is behind,
// gets the snapshot from storage.
func TestStorageAcrossMachines(t *testing.T) {
	st := &memStorage{}
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")

	a := openWith(t, dirA, st)
	commit(t, a, []Entry{entry("k1", 1), entry("k2", 2), entry("k3", 3)}, nil)
	if err := a.Compact(); err != nil {
		t.Fatal(err)
	}
	commit(t, a, []Entry{entry("k4", 4)}, []Entry{entry("k1", 0)})
	// The second group is only in the delta: A stops before compacting.
	if _, err := OpenWith(context.Background(), dirB, st); !errors.Is(err, ErrLocked) {
		t.Fatalf("second machine while the first holds the sync: %v", err)
	}
	a.Close()

	want := map[string]uint64{"k2": 2, "k3": 3, "k4": 4}
	b := openWith(t, dirB, st)
	if got := entriesOf(t, b); !cmp.Equal(got, want) {
		t.Fatalf("machine B sees %v, want %v", got, want)
	}
	commit(t, b, []Entry{entry("k5", 5), entry("k2", 22)}, nil)
	b.Close()
	want = map[string]uint64{"k2": 22, "k3": 3, "k4": 4, "k5": 5}

	// A's cache is a generation behind and its delta stale.
	a = openWith(t, dirA, st)
	if got := entriesOf(t, a); !cmp.Equal(got, want) {
		t.Fatalf("machine A back sees %v, want %v", got, want)
	}
	a.Close()

	// Crash: A committed deltas to storage, then the machine's disk went.
	a = openWith(t, dirA, st)
	commit(t, a, []Entry{entry("k6", 6)}, []Entry{entry("k3", 0)})
	a.Close()
	if err := os.RemoveAll(dirA); err != nil {
		t.Fatal(err)
	}
	want = map[string]uint64{"k2": 22, "k4": 4, "k5": 5, "k6": 6}
	a = openWith(t, dirA, st)
	if got := entriesOf(t, a); !cmp.Equal(got, want) {
		t.Fatalf("after losing the cache: %v, want %v", got, want)
	}

	// Reset empties it everywhere.
	if err := a.Reset(); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b = openWith(t, dirB, st)
	if got := entriesOf(t, b); len(got) != 0 || b.Len() != 0 {
		t.Fatalf("after Reset: %v", got)
	}
	b.Close()
}

// A batch counts once storage has it: a failed append fails the commit,
// and a group only the local log holds is dropped on the next open.
func TestStorageCommitPoint(t *testing.T) {
	st := &memStorage{}
	dir := t.TempDir()
	s := openWith(t, dir, st)
	commit(t, s, []Entry{entry("a", 1)}, nil)
	st.failAdd = errors.New("connection refused")
	d, err := s.Delta("")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Commit([]Entry{entry("b", 2)}, nil); err == nil {
		t.Fatal("commit succeeded though storage refused it")
	}
	d.Close()
	s.Close()
	st.failAdd = nil
	// The local log is written after storage; plant a group storage
	// never had, as a write racing a lost connection would.
	s = openWith(t, dir, st)
	s2, err := s.Delta("")
	if err != nil {
		t.Fatal(err)
	}
	s2.snap = nil // local only
	if err := s2.Commit([]Entry{entry("c", 3)}, nil); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s.Close()
	s = openWith(t, dir, st)
	defer s.Close()
	if got, want := entriesOf(t, s), map[string]uint64{"a": 1}; !cmp.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// A storage that never saw the snapshot is seeded with the directory's:
// a project moving from the embedded store keeps its snapshots.
func TestStorageSeededFromDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, []Entry{entry("x", 1), entry("y", 2)}, nil)
	s.Close()
	st := &memStorage{}
	s = openWith(t, dir, st)
	s.Close()
	other := openWith(t, t.TempDir(), st)
	defer other.Close()
	if got, want := entriesOf(t, other), map[string]uint64{"x": 1, "y": 2}; !cmp.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
