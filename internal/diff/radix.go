package diff

import (
	"cmp"
	"slices"
)

// hashIndex pairs a key hash with the position of its row.
type hashIndex struct {
	h uint64
	i uint32
}

// sortByHash sorts items by hash: an LSD radix sort on the top 32 bits
// (two 16-bit digits), then an insertion pass that orders the rare items
// whose top halves tie by their full hash. A partition's rows come in
// random hash order, and comparison sorts of tens of thousands of them
// cost more than the rest of the diff. scratch is reused storage.
func sortByHash(items, scratch []hashIndex) ([]hashIndex, []hashIndex) {
	if len(items) < 2 {
		return items, scratch
	}
	if cap(scratch) < len(items) {
		scratch = make([]hashIndex, len(items))
	}
	scratch = scratch[:len(items)]
	var counts [1 << 16]int
	src, dst := items, scratch
	for shift := uint(32); shift < 64; shift += 16 {
		clear(counts[:])
		for _, it := range src {
			counts[(it.h>>shift)&0xffff]++
		}
		if counts[(src[0].h>>shift)&0xffff] == len(src) {
			continue // every item has this digit (a partition's top bits)
		}
		sum := 0
		for d, c := range counts {
			counts[d] = sum
			sum += c
		}
		for _, it := range src {
			d := (it.h >> shift) & 0xffff
			dst[counts[d]] = it
			counts[d]++
		}
		src, dst = dst, src
	}
	// Items are now ordered by their top 32 bits; order ties fully. Runs
	// of equal top halves are rare and short.
	for i := 0; i < len(src); {
		j := i + 1
		for j < len(src) && src[j].h>>32 == src[i].h>>32 {
			j++
		}
		if j-i > 1 {
			slices.SortStableFunc(src[i:j], func(a, b hashIndex) int { return cmp.Compare(a.h, b.h) })
		}
		i = j
	}
	return src, dst
}
