package connector

import "context"

// FieldInfo describes one field of a destination object, as the vendor's
// schema API reports it.
type FieldInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // the vendor's type name
	ReadOnly bool   `json:"read_only,omitempty"`
	// Unique fields can identify records (an upsert's identifier).
	Unique bool `json:"unique,omitempty"`
}

// Discoverer is implemented by destinations whose API lists an object's
// fields; `riptide validate --connect` checks mappings against it.
type Discoverer interface {
	Fields(ctx context.Context, object string) ([]FieldInfo, error)
}
