package diff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

type deltaOp struct {
	op byte
	Entry
}

// Compact folds the delta log into a new base generation. Memory is
// bounded by one partition of the delta, whatever its size: the delta is
// spilled by key hash and each partition is merged with its range of the
// old base in one sequential pass.
func (s *Snapshot) Compact() error {
	dpath := s.deltaPath(s.gen)
	st, err := os.Stat(dpath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compact snapshot: %w", err)
	}
	confirmed := map[string]bool{}
	groups := 0
	if err := readGroups(dpath, func(kind byte, tag string, _ []byte) error {
		groups++
		if kind == groupConfirm {
			confirmed[tag] = true
		}
		return nil
	}); err != nil {
		return fmt.Errorf("compact snapshot: read delta: %w", err)
	}
	if groups == 0 {
		os.Remove(dpath)
		return nil
	}

	sp, err := newSpill(filepath.Join(s.dir, "compact-tmp"), partitionBits(uint64(st.Size()/26)))
	if err != nil {
		return fmt.Errorf("compact snapshot: %w", err)
	}
	defer sp.close()
	err = readGroups(dpath, func(kind byte, tag string, body []byte) error {
		if kind != groupEntries || (tag != "" && !confirmed[tag]) {
			return nil
		}
		for len(body) > 0 {
			e, n, err := decodeEntry(body[1:])
			if err != nil {
				return err
			}
			if err := sp.add(e.KeyHash, body[:1+n]); err != nil {
				return err
			}
			body = body[1+n:]
		}
		return nil
	})
	if err == nil {
		err = sp.finish()
	}
	if err != nil {
		return fmt.Errorf("compact snapshot: %w", err)
	}

	old, err := s.reader()
	if err != nil {
		return fmt.Errorf("compact snapshot: %w", err)
	}
	defer old.close()
	next := s.gen + 1
	bw, err := createBase(s.basePath(next))
	if err != nil {
		return fmt.Errorf("compact snapshot: %w", err)
	}
	if err := mergeDelta(old, sp, bw); err != nil {
		bw.abort()
		return fmt.Errorf("compact snapshot: %w", err)
	}
	if err := bw.finish(); err != nil {
		os.Remove(s.basePath(next))
		return fmt.Errorf("compact snapshot: %w", err)
	}
	// The new generation counts once storage has it: a crash before
	// leaves the old one with its delta there, which the next open fetches.
	if s.remote != nil {
		if err := s.publish(next, bw.count); err != nil {
			os.Remove(s.basePath(next))
			return err
		}
	}
	if err := s.writeCurrent(current{Generation: next, Entries: bw.count}); err != nil {
		return err
	}
	prev := s.gen
	s.gen, s.entries = next, bw.count
	os.Remove(s.basePath(prev))
	os.Remove(dpath)
	return nil
}

func mergeDelta(old *baseReader, sp *spill, bw *baseWriter) error {
	var (
		arena []byte
		offs  []uint32
		ops   []deltaOp
		err   error
	)
	for p := 0; p < sp.partitions(); p++ {
		arena, offs, err = sp.load(p, arena, offs)
		if err != nil {
			return err
		}
		ops = ops[:0]
		for i := 0; i+1 < len(offs); i++ {
			rec := arena[offs[i]:offs[i+1]]
			e, _, err := decodeEntry(rec[1:])
			if err != nil {
				return err
			}
			ops = append(ops, deltaOp{op: rec[0], Entry: e})
		}
		// Stable: for a key written twice, the later write is last.
		slices.SortStableFunc(ops, func(a, b deltaOp) int {
			return compare(a.KeyHash, a.Key, b.KeyHash, b.Key)
		})
		for i, d := range ops {
			if i+1 < len(ops) && ops[i+1].KeyHash == d.KeyHash && ops[i+1].Key == d.Key {
				continue // superseded
			}
			for {
				e, ok, err := old.peek()
				if err != nil {
					return err
				}
				if !ok || !less(e.KeyHash, e.Key, d.KeyHash, d.Key) {
					if ok && e.KeyHash == d.KeyHash && e.Key == d.Key {
						old.next()
					}
					break
				}
				if err := bw.add(e); err != nil {
					return err
				}
				old.next()
			}
			if d.op == opSet {
				if err := bw.add(d.Entry); err != nil {
					return err
				}
			}
		}
		for {
			e, ok, err := old.peek()
			if err != nil {
				return err
			}
			if !ok || partitionOf(e.KeyHash, sp.bits) != p {
				break
			}
			if err := bw.add(e); err != nil {
				return err
			}
			old.next()
		}
	}
	// Entries are consumed partition by partition; anything left (none,
	// unless the base is out of order) is copied through and checked.
	for {
		e, ok, err := old.peek()
		if err != nil || !ok {
			return err
		}
		if err := bw.add(e); err != nil {
			return err
		}
		old.next()
	}
}
