package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
)

// connectionJSON is a source or destination with its settings, secrets
// masked.
type connectionJSON struct {
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	Settings map[string]any `json:"settings"`
}

// maskSettings returns settings safe to show: fields the connector's spec
// declares secret are masked whole, and every other value has the
// project's secrets (whatever came from ${VAR}, passwords inside URLs)
// masked where they appear.
func maskSettings(spec connector.Spec, set connector.Settings, red *redact.Redactor) map[string]any {
	out := make(map[string]any, len(set))
	for k, v := range set {
		if f, ok := spec.Field(k); ok && f.Secret {
			if v != nil && v != "" {
				out[k] = redact.Mask
			} else {
				out[k] = v
			}
			continue
		}
		out[k] = maskValue(v, red)
	}
	return out
}

func maskValue(v any, red *redact.Redactor) any {
	switch x := v.(type) {
	case string:
		return red.String(x)
	case map[string]string:
		m := make(map[string]string, len(x))
		for k, s := range x {
			m[k] = red.String(s)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = maskValue(s, red)
		}
		return m
	case []string:
		l := make([]string, len(x))
		for i, s := range x {
			l[i] = red.String(s)
		}
		return l
	case []any:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = maskValue(s, red)
		}
		return l
	}
	return v
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *Server) source(name string) (connectionJSON, bool) {
	src, ok := s.Project().Sources[name]
	if !ok {
		return connectionJSON{}, false
	}
	return connectionJSON{Name: src.Name, Type: src.Type, Settings: maskSettings(s.cfg.Sources[src.Type].Spec, src.Settings, s.redact())}, true
}

func (s *Server) destination(name string) (connectionJSON, bool) {
	d, ok := s.Project().Destinations[name]
	if !ok {
		return connectionJSON{}, false
	}
	return connectionJSON{Name: d.Name, Type: d.Type, Settings: maskSettings(s.cfg.Destinations[d.Type].Spec, d.Settings, s.redact())}, true
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) error {
	items := []connectionJSON{}
	for _, n := range sortedNames(s.Project().Sources) {
		c, _ := s.source(n)
		items = append(items, c)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getSource(w http.ResponseWriter, r *http.Request) error {
	c, ok := s.source(r.PathValue("name"))
	if !ok {
		return apiErr(http.StatusNotFound, codeNotFound, "no source named %q", r.PathValue("name"))
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request) error {
	items := []connectionJSON{}
	for _, n := range sortedNames(s.Project().Destinations) {
		c, _ := s.destination(n)
		items = append(items, c)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getDestination(w http.ResponseWriter, r *http.Request) error {
	c, ok := s.destination(r.PathValue("name"))
	if !ok {
		return apiErr(http.StatusNotFound, codeNotFound, "no destination named %q", r.PathValue("name"))
	}
	return writeJSON(w, http.StatusOK, c)
}

type modelJSON struct {
	Name        string   `json:"name"`
	Source      string   `json:"source"`
	PrimaryKey  []string `json:"primary_key"`
	SQL         string   `json:"sql"`
	Description string   `json:"description,omitempty"`
}

func toModelJSON(m *config.Model, red *redact.Redactor) modelJSON {
	return modelJSON{Name: m.Name, Source: m.Source, PrimaryKey: m.PrimaryKey, SQL: red.String(m.SQL), Description: m.Description}
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	p := s.Project()
	items := []modelJSON{}
	for _, n := range sortedNames(p.Models) {
		items = append(items, toModelJSON(p.Models[n], s.redact()))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) modelOf(r *http.Request) (*config.Model, error) {
	m, ok := s.Project().Models[r.PathValue("name")]
	if !ok {
		return nil, apiErr(http.StatusNotFound, codeNotFound, "no model named %q", r.PathValue("name"))
	}
	return m, nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	m, err := s.modelOf(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toModelJSON(m, s.redact()))
}

// MaxPreviewRows caps a model preview.
const MaxPreviewRows = 100

type previewJSON struct {
	Model   string       `json:"model"`
	Columns []columnJSON `json:"columns"`
	Rows    [][]any      `json:"rows"`
	Limit   int          `json:"limit"`
}

type columnJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (s *Server) previewModel(w http.ResponseWriter, r *http.Request) error {
	m, err := s.modelOf(r)
	if err != nil {
		return err
	}
	pg, err := pageOf(r, 10, MaxPreviewRows)
	if err != nil {
		return err
	}
	if pg.offset != 0 {
		return apiErr(http.StatusBadRequest, codeInvalidRequest, "a preview takes limit only, not offset")
	}
	out, err := s.preview(r.Context(), m, pg.limit)
	if err != nil {
		// The warehouse's message says what is wrong with the query.
		return apiErr(http.StatusBadGateway, "source_error", "%s", s.redact().Error(err))
	}
	return writeJSON(w, http.StatusOK, out)
}

// preview reads the first rows of a model. The query is wrapped in a
// LIMIT so that the warehouse stops early, in SQL all supported warehouses
// share.
func (s *Server) preview(ctx context.Context, m *config.Model, limit int) (previewJSON, error) {
	out := previewJSON{Model: m.Name, Columns: []columnJSON{}, Rows: [][]any{}, Limit: limit}
	srcCfg := s.Project().Sources[m.Source]
	plugin, ok := s.cfg.Sources[srcCfg.Type]
	if !ok {
		return out, fmt.Errorf("source type %q is not available", srcCfg.Type)
	}
	src, err := plugin.New(ctx, srcCfg.Settings, s.Project().Dir)
	if err != nil {
		return out, fmt.Errorf("open source %s: %w", srcCfg.Name, err)
	}
	defer src.Close()
	rows, err := src.Query(ctx, fmt.Sprintf("SELECT * FROM (\n%s\n) AS riptide_preview LIMIT %d", m.SQL, limit))
	if err != nil {
		return out, fmt.Errorf("preview model %s: %w", m.Name, err)
	}
	defer rows.Close()
	for _, c := range rows.Columns() {
		out.Columns = append(out.Columns, columnJSON{Name: c.Name, Type: c.DatabaseType})
	}
	for len(out.Rows) < limit && rows.Next() {
		out.Rows = append(out.Rows, slices.Clone(rows.Values()))
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("preview model %s: %w", m.Name, err)
	}
	return out, nil
}

// connectorJSON is a connector's spec, in the shape `riptide connectors
// --json` prints.
type connectorJSON struct {
	Kind     string             `json:"kind"`
	Type     string             `json:"type"`
	Summary  string             `json:"summary"`
	Settings []settingJSON      `json:"settings"`
	Modes    []string           `json:"modes,omitempty"`
	Objects  []connector.Object `json:"objects,omitempty"`
	Limits   *connector.Limits  `json:"limits,omitempty"`
	Deferred bool               `json:"deferred,omitempty"`
}

type settingJSON struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Required bool     `json:"required,omitempty"`
	Default  any      `json:"default,omitempty"`
	Secret   bool     `json:"secret,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Doc      string   `json:"doc"`
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) error {
	var all []connectorJSON
	add := func(kind string, spec connector.Spec) {
		c := connectorJSON{Kind: kind, Type: spec.Type, Summary: spec.Summary, Modes: spec.Modes, Objects: spec.Objects, Deferred: spec.Deferred}
		if kind == "destination" {
			limits := spec.Limits
			c.Limits = &limits
		}
		for _, f := range spec.Fields {
			c.Settings = append(c.Settings, settingJSON{Name: f.Name, Kind: string(f.Kind), Required: f.Required,
				Default: f.Default, Secret: f.Secret, Enum: f.Enum, Doc: f.Doc})
		}
		all = append(all, c)
	}
	for _, p := range s.cfg.Sources {
		add("source", p.Spec)
	}
	for _, p := range s.cfg.Destinations {
		add("destination", p.Spec)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Kind != all[j].Kind {
			return all[i].Kind > all[j].Kind // sources first
		}
		return all[i].Type < all[j].Type
	})
	if all == nil {
		all = []connectorJSON{}
	}
	return writeJSON(w, http.StatusOK, all)
}
