package config

import (
	"maps"
	"slices"
)

// StreamSourceTypes are the source types a stream sync can follow.
var StreamSourceTypes = []string{"postgres"}

// checkStreams reports stream syncs that cannot stream: a stream follows a
// PostgreSQL source's logical replication, delivers each change as an
// upsert or a delete, record by record, and has no runs for after: to
// wait for.
func (l *loader) checkStreams(p *Project) {
	names := slices.Sorted(maps.Keys(p.Syncs))
	for _, name := range names {
		s := p.Syncs[name]
		if s.Schedule.Kind != ScheduleStream {
			continue
		}
		path := sectionSyncs.name + "." + name + ".schedule"
		if s.Mode != ModeUpsert && s.Mode != ModeMirror {
			l.errorf(s.SchedulePos, "%s: a stream sync's mode must be upsert or mirror, not %s: a change stream does not tell an added row from a changed one", path, s.Mode)
		}
		if m, ok := p.Models[s.Model]; ok {
			if src, ok := p.Sources[m.Source]; ok && !slices.Contains(StreamSourceTypes, src.Type) {
				l.errorf(s.SchedulePos, "%s: model %s reads source %s of type %s; streaming follows PostgreSQL logical replication (type postgres)", path, m.Name, src.Name, src.Type)
			}
		}
		if d, ok := p.Destinations[s.Destination]; ok && l.specs.Destination != nil {
			if spec, ok := l.specs.Destination(d.Type); ok && spec.Deferred {
				l.errorf(s.SchedulePos, "%s: destination %s (%s) makes records durable only at the end of a run, which a stream never reaches", path, d.Name, d.Type)
			}
		}
		if s.Diff == DiffWarehouse {
			l.errorf(s.DiffPos, "%s.%s.diff: a stream sync keeps its snapshot locally (what it streams is committed there); remove diff: warehouse", sectionSyncs.name, name)
		}
		if len(s.After) > 0 {
			l.errorf(s.SchedulePos, "%s: a stream sync runs continuously; it cannot also wait for other syncs (remove after)", path)
		}
	}
	for _, name := range names {
		for i, up := range p.Syncs[name].After {
			if u, ok := p.Syncs[up]; ok && u.Schedule.Kind == ScheduleStream {
				at := p.Syncs[name].Pos
				if ns := l.afterAt[name]; i < len(ns) {
					at = ns[i].pos()
				}
				l.errorf(at, "%s.%s.after: %s is a stream sync, whose changes are delivered continuously, not in runs to wait for", sectionSyncs.name, name, up)
			}
		}
	}
}
