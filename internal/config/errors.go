package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a project, at the position it is about.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the problem as "file:line:col: message". YAML syntax errors
// know their line but not their column, and a missing file knows neither;
// those print only what is known rather than a made-up position.
func (e Error) Error() string {
	switch {
	case e.Pos.File == "":
		return e.Msg
	case e.Pos.Line == 0:
		return e.Pos.File + ": " + e.Msg
	case e.Pos.Col == 0:
		return fmt.Sprintf("%s:%d: %s", e.Pos.File, e.Pos.Line, e.Msg)
	}
	return e.Pos.String() + ": " + e.Msg
}

// Errors is every problem found while loading a project, sorted by file,
// line and column. Load returns it as its error, so that a user fixes a
// whole project in one pass instead of one message per run.
type Errors struct {
	List []Error
}

// Error returns the problems one per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, err := range e.List {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders problems by position, and drops exact repeats (a value
// under a YAML anchor is checked once per place it is used).
func sortErrors(list []Error) []Error {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].Pos, list[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := list[:0]
	seen := map[Error]bool{}
	for _, e := range list {
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out
}
