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
