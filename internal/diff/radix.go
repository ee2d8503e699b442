package diff

// hashIndex pairs a key hash with the position of its row.
type hashIndex struct {
	h uint64
	i uint32
}

// sortByHash sorts items by hash with an LSD radix sort (16-bit digits):
// a partition's rows come in random hash order, and comparison sorts of
// tens of thousands of them cost more than the rest of the diff. Digits
// that are the same in every item (a partition's top bits) are skipped.
// scratch is reused storage of any length.
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
	for shift := uint(0); shift < 64; shift += 16 {
		clear(counts[:])
		for _, it := range src {
			counts[(it.h>>shift)&0xffff]++
		}
		if counts[(src[0].h>>shift)&0xffff] == len(src) {
			continue // every item has this digit
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
	return src, dst
}
