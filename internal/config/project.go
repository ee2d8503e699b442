// Package config loads a Riptide project — riptide.yaml and the models/ and
// syncs/ folders beside it — into validated, typed configuration. Every
// error names the file, line and column it is about.
package config

import (
	"fmt"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// Pos is a position in a project file.
type Pos struct {
	File string // relative to the project directory
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Project is a loaded project.
type Project struct {
	// Dir is the project directory, absolute; relative paths in settings
	// and sql_file resolve against it.
	Dir          string
	Sources      map[string]*Source
	Destinations map[string]*Destination
	Models       map[string]*Model
	Syncs        map[string]*Sync
	// Alerts are the project-wide alert rules (the top-level alerts:
	// section), nil when there is none; each sync's Alerts already
	// includes them.
	Alerts *Alerts
	// State is the state store from the top-level state key: a
	// postgres:// URL, an absolute path to an SQLite file, or "" for the
	// embedded default under .riptide/.
	State string
	// WriteBack is the project-wide write_back (the top-level key), nil
	// when there is none; each sync's WriteBack already includes it.
	WriteBack *WriteBack
	// Secrets are the values that must never be shown: everything that
	// came from ${VAR}, secret settings, and passwords inside URLs.
	Secrets []string
	// Warnings are problems that do not stop the project from loading (a
	// secret written inline instead of through ${VAR}).
	Warnings []string
}

// Source is a warehouse connection.
type Source struct {
	Name     string
	Type     string
	Settings connector.Settings
	// DiffSchema is the schema for the warehouse diff's snapshots of
	// the syncs reading this source ("" for the default).
	DiffSchema string
	Pos        Pos
}

// Destination is a connection to a business tool.
type Destination struct {
	Name     string
	Type     string
	Settings connector.Settings
	// MaxConcurrentSyncs bounds how many runs of syncs writing to this
	// destination `riptide serve` runs at the same time, whichever syncs
	// they are; 0 means no limit.
	MaxConcurrentSyncs int
	Pos                Pos
}

// Model is a query on a source with a primary key.
type Model struct {
	Name        string
	Source      string
	PrimaryKey  []string
	SQL         string // from sql, sql_file (read) or table (select *)
	Description string
	Pos         Pos
}

// Sync modes.
const (
	ModeUpsert = "upsert"
	ModeInsert = "insert"
	ModeUpdate = "update"
	ModeMirror = "mirror"
)

// Modes lists the sync modes in documentation order.
var Modes = []string{ModeUpsert, ModeInsert, ModeUpdate, ModeMirror}

// Sync connects a model to a destination object.
type Sync struct {
	Name        string
	Model       string
	Destination string
	Mode        string // default upsert
	Object      string
	Identifier  []string
	// Mapping lists destination fields in the order written. When the sync
	// declares no mapping, MapAll is set and every model column is sent
	// under its own name.
	Mapping     []Mapping
	MapAll      bool
	Schedule    Schedule
	SchedulePos Pos
	// After lists the syncs whose successful runs trigger this one under
	// `riptide serve`: it is queued once every one of them has succeeded
	// since its own last run was queued.
	After []string
	// MaxChangePct stops a run whose plan adds, changes or removes more
	// than this share of the snapshot; 0 means no limit.
	MaxChangePct float64
	// MaxRejectedPct fails a run whose rejected rows exceed this share of
	// the model's rows (default 50).
	MaxRejectedPct float64
	// Alerts are the rules `riptide serve` checks the sync's runs
	// against: the project's, overridden key by key by the sync's own
	// alerts section; nil when no rule is on.
	Alerts *Alerts
	// WriteBack is where the sync's row outcomes are written, its own or
	// the project's; nil writes nothing back.
	WriteBack *WriteBack
	// Diff is the diff strategy: DiffAuto (default), DiffLocal or
	// DiffWarehouse (see diff.go).
	Diff    string
	DiffPos Pos
	// DiffSchema is the warehouse schema of the sync's snapshot under the
	// warehouse diff: the sync's, else its source's, else "riptide".
	DiffSchema string
	Pos        Pos
}

// Mapping is one destination field: exactly one of Column, Value (with
// IsValue set) and Template is given.
type Mapping struct {
	Field    string
	Column   string
	Value    any
	IsValue  bool
	Template string
	// Type converts the column's or template's value for the
	// destination field (one of MappingTypes; "" keeps it as it is).
	Type string
	Pos  Pos
}

// Schedule kinds.
const (
	ScheduleManual   = "manual"
	ScheduleCron     = "cron"
	ScheduleInterval = "interval"
	// ScheduleStream syncs follow their model's PostgreSQL tables through
	// logical replication, as long as `riptide serve` runs.
	ScheduleStream = "stream"
)

// Schedule says when a sync runs under `riptide serve`.
type Schedule struct {
	Kind  string        // manual, cron, interval or stream
	Cron  string        // for cron: the expression, validated
	Every time.Duration // for interval: "every 10m"
}

// Specs gives the config loader the connector specs to check settings
// against, by connector type.
type Specs struct {
	Source      func(typ string) (connector.Spec, bool)
	Destination func(typ string) (connector.Spec, bool)
	// SourceTypes and DestinationTypes list the known types, for messages
	// and suggestions.
	SourceTypes      []string
	DestinationTypes []string
}
