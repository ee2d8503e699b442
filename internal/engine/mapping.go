package engine

import (
	"context"
	"fmt"

	"github.com/riptide-data/riptide/internal/transform"
)

// MappingChanged reports whether a sync's mapping (or the model's columns
// it maps) differs from what its last completed run used: a run then
// sends every row again under the new mapping. A stream, which sends only
// what changes, asks before it starts so that it can run the sync in
// batch first. A sync that never completed a run has not changed.
func (e *Engine) MappingChanged(ctx context.Context, syncName string) (bool, error) {
	sync, ok := e.Project.Syncs[syncName]
	if !ok {
		return false, fmt.Errorf("no sync named %q%s", syncName, suggestName(syncName, e.Project.Syncs))
	}
	prev, ran, err := e.Store.SyncState(ctx, sync.Name)
	if err != nil || !ran {
		return false, err
	}
	model := e.Project.Models[sync.Model]
	src, _, err := e.modelSource(ctx, model)
	if err != nil {
		return false, err
	}
	defer src.Close()
	columns, err := e.modelColumns(ctx, src, model)
	if err != nil {
		return false, err
	}
	m, err := transform.New(sync, columnNames(columns))
	if err != nil {
		return false, err
	}
	return prev.MappingHash != mappingHash(m), nil
}

// mappingHash is how a sync's state records the mapping a run used.
func mappingHash(m *transform.Mapper) string { return fmt.Sprintf("%016x", m.Fingerprint()) }
