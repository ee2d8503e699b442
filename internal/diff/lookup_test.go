package diff

import (
	"fmt"
	"testing"
)

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := s.Lookup()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := empty.Get(KeyHash("1"), "1"); ok || err != nil {
		t.Fatalf("empty snapshot: found key 1 (%v)", err)
	}
	empty.Close()

	want := map[string]Entry{}
	var set []Entry
	for i := range 5000 {
		k := fmt.Sprint(i)
		e := Entry{KeyHash: KeyHash(k), RowHash: uint64(i) * 7, Key: k}
		set, want[k] = append(set, e), e
	}
	// 300 keys sharing one key hash span several strides of the index.
	for i := range 300 {
		k := fmt.Sprintf("c%03d", i)
		e := Entry{KeyHash: 42, RowHash: uint64(i) + 1, Key: k}
		set, want[k] = append(set, e), e
	}
	// Keys at the ends of the hash order.
	for _, e := range []Entry{{KeyHash: 0, RowHash: 9, Key: "lowest"}, {KeyHash: ^uint64(0), RowHash: 10, Key: "highest"}} {
		set, want[e.Key] = append(set, e), e
	}
	d, err := s.Delta("")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(set, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(); err == nil {
		t.Fatal("Lookup with a delta not folded in: no error")
	}
	s.Close()

	s, err = Open(dir) // folds the delta into a base
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Lookup()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for k, e := range want {
		got, ok, err := l.Get(e.KeyHash, k)
		if err != nil || !ok || got != e.RowHash {
			t.Errorf("key %q: got %d, %v, %v; want %d", k, got, ok, err, e.RowHash)
		}
	}
	for _, miss := range []Entry{
		{KeyHash: KeyHash("5000"), Key: "5000"},
		{KeyHash: 42, Key: "c300"},      // the shared hash, another key
		{KeyHash: 42, Key: "b"},         // before them
		{KeyHash: 41, Key: "c000"},      // a key that is there, by another hash
		{KeyHash: 1, Key: "lowest"},     // between the lowest and the rest
		{KeyHash: ^uint64(0), Key: "x"}, // at the end
	} {
		if got, ok, err := l.Get(miss.KeyHash, miss.Key); ok || err != nil {
			t.Errorf("key %q (hash %d): found %d (%v), want nothing", miss.Key, miss.KeyHash, got, err)
		}
	}
}

// BenchmarkLookup: indexing a snapshot of 1,000,000 keys (what a follow
// does as it starts) and finding keys in it (per streamed change).
func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	set := make([]Entry, 0, n)
	for i := range n {
		k := fmt.Sprintf("user-%d", i)
		set = append(set, Entry{KeyHash: KeyHash(k), RowHash: uint64(i), Key: k})
	}
	d, err := s.Delta("")
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Commit(set, nil); err != nil {
		b.Fatal(err)
	}
	d.Close()
	s.Close()
	if s, err = Open(dir); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			l, err := s.Lookup()
			if err != nil {
				b.Fatal(err)
			}
			l.Close()
		}
	})
	b.Run("get", func(b *testing.B) {
		l, err := s.Lookup()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		i := 0
		for b.Loop() {
			e := set[(i*7919)%n]
			if h, ok, err := l.Get(e.KeyHash, e.Key); err != nil || !ok || h != e.RowHash {
				b.Fatalf("key %q: %d %v %v", e.Key, h, ok, err)
			}
			i++
		}
	})
}
