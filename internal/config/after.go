package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// after reads a sync's `after:` list: syncs that must succeed before this
// one runs. Each must be a defined sync, listed once; cycles are found
// later, by checkAfterCycles, when every sync has been read.
func (l *loader) after(n node, path, sync string) ([]string, bool) {
	v := n.deref()
	entries := []node{v}
	if v.Kind == yaml.SequenceNode {
		entries = entries[:0]
		for _, c := range v.Content {
			entries = append(entries, node{v.file, c})
		}
	} else if v.Kind != yaml.ScalarNode {
		l.errorAt(v, "%s: expected a sync name or a list of sync names, got %s", path, describe(v))
		return nil, false
	}
	if len(entries) == 0 {
		l.errorAt(v, "%s: is empty; leave after out when the sync waits for no other", path)
		return nil, false
	}
	var out []string
	var at []node
	seen := map[string]bool{}
	allOK := true
	for i, e := range entries {
		epath := path
		if v.Kind == yaml.SequenceNode {
			epath = fmt.Sprintf("%s[%d]", path, i)
		}
		name, ok := l.ref(e, sectionSyncs, epath)
		if !ok {
			allOK = false
			continue
		}
		if seen[name] {
			l.errorAt(e.deref(), "%s: sync %q is listed twice", epath, name)
			allOK = false
			continue
		}
		seen[name] = true
		out = append(out, name)
		at = append(at, e.deref())
	}
	l.afterAt[sync] = at
	return out, allOK
}

// checkAfterCycles reports every sync that, through its after list, would
// wait for its own run: such a sync could never be triggered. Each cycle is
// reported at the after entry that closes it.
func (l *loader) checkAfterCycles(syncs map[string]*Sync) {
	const (
		unvisited = iota
		onPath
		done
	)
	color := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		color[name] = onPath
		path = append(path, name)
		s := syncs[name]
		for i, up := range s.After {
			if _, ok := syncs[up]; !ok {
				continue // already reported as undefined, or broken itself
			}
			switch color[up] {
			case unvisited:
				visit(up)
			case onPath:
				start := len(path) - 1
				for path[start] != up {
					start--
				}
				cycle := append(append([]string(nil), path[start:]...), up)
				steps := make([]string, len(cycle)-1)
				for j := range steps {
					steps[j] = cycle[j] + " after " + cycle[j+1]
				}
				// Start from the entry reported, so the message reads from
				// the line it points at.
				steps = append(steps[len(steps)-1:], steps[:len(steps)-1]...)
				where := node{}
				if at := l.afterAt[name]; i < len(at) {
					where = at[i]
				}
				msg := fmt.Sprintf("%s.%s.after: a cycle (%s): none of these syncs could ever be triggered; remove one of the after entries",
					sectionSyncs.name, name, strings.Join(steps, ", "))
				if where.Node == nil {
					l.errorf(s.Pos, "%s", msg)
				} else {
					l.errorAt(where, "%s", msg)
				}
			}
		}
		path = path[:len(path)-1]
		color[name] = done
	}
	names := slices.Sorted(maps.Keys(syncs))
	for _, name := range names {
		if color[name] == unvisited {
			visit(name)
		}
	}
}
