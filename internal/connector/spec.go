// Package connector is the seam between the engine and the connectors: the
// Source and Destination interfaces, the Spec each connector declares, the
// settings it is built from and the per-row outcomes it reports. It imports
// nothing of Riptide's beyond the canonical value package, so connectors and
// engine depend on it and never on each other.
package connector

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind is the type of a settings field.
type Kind string

const (
	KindString    Kind = "string"
	KindInt       Kind = "int"
	KindFloat     Kind = "float"
	KindBool      Kind = "bool"
	KindDuration  Kind = "duration"   // "30s", "2m"
	KindStringMap Kind = "string_map" // {Header: value}
	KindList      Kind = "list"       // [a, b]
)

// Field declares one setting of a connector. The config loader checks a
// project's settings against these declarations, so a connector receives
// settings that are known, typed and defaulted.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	Default  any // of the Go type Settings returns for Kind
	// Secret fields are redacted everywhere; a value given inline rather
	// than through ${VAR} is accepted with a warning.
	Secret bool
	Enum   []string
	Doc    string
}

// Limits are what a destination's API allows. The delivery layer carries
// them out; a connector never batches, throttles or retries on its own.
type Limits struct {
	BatchSize      int     // records per request (default and maximum)
	MaxBatchBytes  int     // payload bytes per request, 0 = no limit
	Concurrency    int     // requests in flight
	RequestsPerSec float64 // 0 = unlimited
	// Windows are quotas counted over spans of time, as vendors state
	// them ("190 requests per 10 seconds", "625,000 per day"). The
	// delivery layer keeps every one: never more than Requests requests
	// start within any span of Per.
	Windows []RateWindow
}

// RateWindow is a quota of Requests requests in any span of Per.
type RateWindow struct {
	Requests int
	Per      time.Duration
}

func (w RateWindow) String() string {
	return fmt.Sprintf("%d requests per %s", w.Requests, w.Per)
}

// RateWindowed is implemented by destinations whose settings choose their
// quotas (an account's tier sets a vendor's limits): the delivery layer
// keeps the windows the destination returns instead of those of its spec.
type RateWindowed interface {
	RateWindows() []RateWindow
}

// Spec describes a connector: its settings and, for destinations, its
// limits and supported sync modes.
type Spec struct {
	Type    string
	Summary string
	Fields  []Field
	// Destinations only.
	Limits Limits
	Modes  []string // upsert, insert, update, mirror
	// Objects are the objects a sync may name and how records of each are
	// matched; empty when the destination takes any object name (a table,
	// a topic) or none.
	Objects []Object
	// Deferred destinations make a run's records durable only when the
	// writer closes successfully (a file renamed into place); until then
	// acknowledged batches are provisional.
	Deferred bool
	// Sources only: WriteBack declares that the source implements
	// OutcomeWriter, so that a project's write_back may name it.
	WriteBack bool
	// Sources only: WarehouseDiff declares that the source implements
	// Executor, so that a sync may diff in the warehouse.
	WarehouseDiff bool
	// Sources only: WarehouseDiffAuto lets diff: auto move a large model's
	// diff into the warehouse: set where that was measured faster than
	// reading the rows out (DuckDB; docs/BENCHMARKS.md).
	WarehouseDiffAuto bool
}

// Object is one kind of record a destination writes ("contacts", a
// table, an audience) and the fields that can identify its records.
type Object struct {
	// Name is what a sync's object says; a pattern such as "list:<id>"
	// or "<audience id>" stands for a family of objects.
	Name string
	// Identifiers are the fields a sync's identifier may name;
	// DefaultIdentifier is used when the sync names none ("" when the
	// sync must name one).
	Identifiers       []string
	DefaultIdentifier string
	Doc               string
}

// Field returns the declaration of the named setting.
func (s Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// SupportsMode reports whether the destination accepts a sync mode.
func (s Spec) SupportsMode(mode string) bool {
	for _, m := range s.Modes {
		if m == mode {
			return true
		}
	}
	return false
}

// Settings are a connector's validated settings: every declared field is
// present with a value of its kind's Go type (string, int, float64, bool,
// time.Duration, map[string]string, []string), defaults applied.
type Settings map[string]any

func (s Settings) String(name string) string {
	v, _ := s[name].(string)
	return v
}

func (s Settings) Int(name string) int {
	v, _ := s[name].(int)
	return v
}

func (s Settings) Float(name string) float64 {
	switch v := s[name].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	}
	return 0
}

func (s Settings) Bool(name string) bool {
	v, _ := s[name].(bool)
	return v
}

func (s Settings) Duration(name string) time.Duration {
	v, _ := s[name].(time.Duration)
	return v
}

func (s Settings) StringMap(name string) map[string]string {
	v, _ := s[name].(map[string]string)
	return v
}

func (s Settings) List(name string) []string {
	v, _ := s[name].([]string)
	return v
}

// WithDefaults returns settings with every declared field's default filled
// in where raw lacks it. It is what the config loader does, for callers
// (tests, benchmarks) that build settings in code.
func (s Spec) WithDefaults(raw Settings) Settings {
	out := make(Settings, len(s.Fields))
	for _, f := range s.Fields {
		if f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	for k, v := range raw {
		out[k] = v
	}
	return out
}

// Check verifies that settings built in code satisfy the spec: required
// fields present, enums respected. The config loader does the same with
// file positions; this is for settings that did not come from a file.
func (s Spec) Check(set Settings) error {
	var missing []string
	for _, f := range s.Fields {
		v, ok := set[f.Name]
		if f.Required && (!ok || v == "" || v == nil) {
			missing = append(missing, f.Name)
		}
		if len(f.Enum) > 0 && ok {
			str, _ := v.(string)
			if !contains(f.Enum, str) {
				return fmt.Errorf("%s: %s must be one of %s, not %q", s.Type, f.Name, strings.Join(f.Enum, ", "), str)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%s: missing required setting %s", s.Type, strings.Join(missing, ", "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
