package diff

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortByHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 100, 70_000} {
		for _, shape := range []string{"random", "same top bits", "ties on top half", "duplicates"} {
			items := make([]hashIndex, n)
			for i := range items {
				h := rng.Uint64()
				switch shape {
				case "same top bits":
					h = h>>8 | 0xab<<56
				case "ties on top half":
					h = uint64(rng.IntN(50))<<32 | h&0xffffffff
				case "duplicates":
					h = uint64(rng.IntN(10))
				}
				items[i] = hashIndex{h: h, i: uint32(i)}
			}
			want := slices.Clone(items)
			slices.SortStableFunc(want, func(a, b hashIndex) int {
				switch {
				case a.h < b.h:
					return -1
				case a.h > b.h:
					return 1
				}
				return 0
			})
			got, _ := sortByHash(slices.Clone(items), nil)
			for i := range want {
				if got[i].h != want[i].h {
					t.Fatalf("n=%d %s: position %d has hash %x, want %x", n, shape, i, got[i].h, want[i].h)
				}
			}
		}
	}
}

// TestPartitionRanges: every key hash a spill (or a sub-spill of one of
// its partitions) puts in partition p lies after the range of p-1 and
// within lastHash(p); the merge reads the snapshot by these ranges.
func TestPartitionRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, bits := range []uint{0, 1, 6, 8} {
		top := &spill{bits: bits}
		for parent := 0; parent < min(1<<bits, 4); parent++ {
			sub := &spill{bits: 3, skip: bits, parent: uint64(parent)}
			for range 2000 {
				h := rng.Uint64()
				if bits > 0 {
					// A hash of the parent partition.
					h = uint64(parent)<<(64-bits) | h>>bits
				}
				for _, sp := range []*spill{top, sub} {
					p := partitionOf(h<<sp.skip, sp.bits)
					if h > sp.lastHash(p) {
						t.Fatalf("bits %d skip %d: hash %x in partition %d beyond its last %x", sp.bits, sp.skip, h, p, sp.lastHash(p))
					}
					if p > 0 && h <= sp.lastHash(p-1) {
						t.Fatalf("bits %d skip %d: hash %x in partition %d within partition %d's range", sp.bits, sp.skip, h, p, p-1)
					}
				}
			}
		}
	}
}
