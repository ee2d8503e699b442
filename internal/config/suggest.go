package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// suggest returns the candidate the user most likely meant by name, or ""
// when none is close enough to be a useful guess. Close means a few typos
// away (relative to the length of the name), or the name being the start
// of a candidate ("crm" for "crm_hook").
func suggest(name string, candidates []string) string {
	lname := strings.ToLower(name)
	if lname == "" {
		return ""
	}
	limit := max(1, len(lname)/3)
	best, bestDist := "", -1
	for _, c := range sorted(candidates) {
		lc := strings.ToLower(c)
		if lc == lname {
			return c
		}
		d := distance(lname, lc)
		if len(lname) >= 3 && strings.HasPrefix(lc, lname) {
			d = min(d, limit)
		}
		if d > limit || d >= len(lname) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance, except that swapping two adjacent
// letters ("tpye") counts as one typo rather than two.
func distance(a, b string) int {
	if len(a) == len(b) {
		var diff []int
		for i := 0; i < len(a) && len(diff) <= 2; i++ {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		if len(diff) == 2 && diff[1] == diff[0]+1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]] {
			return 1
		}
	}
	return levenshtein.ComputeDistance(a, b)
}

// didYouMean is suggest formatted for the end of a message.
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// orKnown is didYouMean when there is a close candidate, and otherwise the
// list of what is allowed under label, so that a message says what to
// write.
func orKnown(name string, candidates []string, label string) string {
	if s := didYouMean(name, candidates); s != "" {
		return s
	}
	if len(candidates) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", label, strings.Join(sorted(candidates), ", "))
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}
