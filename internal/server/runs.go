package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/state"
	"github.com/riptide-data/riptide/internal/streamsync"
)

// syncJSON is a sync as the API shows it.
type syncJSON struct {
	Name           string             `json:"name"`
	Model          string             `json:"model"`
	Destination    string             `json:"destination"`
	Mode           string             `json:"mode"`
	Object         string             `json:"object,omitempty"`
	Identifier     []string           `json:"identifier,omitempty"`
	Mapping        []mappingJSON      `json:"mapping"`
	MapAll         bool               `json:"map_all"`
	Schedule       string             `json:"schedule"`
	MaxChangePct   float64            `json:"max_change_pct"`
	MaxRejectedPct float64            `json:"max_rejected_pct"`
	LastRun        *state.Run         `json:"last_run"`
	NextRun        *time.Time         `json:"next_run"`
	Stream         *streamsync.Status `json:"stream,omitempty"`
}

type mappingJSON struct {
	Field    string `json:"field"`
	Column   string `json:"column,omitempty"`
	Value    any    `json:"value,omitempty"`
	Template string `json:"template,omitempty"`
}

func (s *Server) syncOf(r *http.Request) (*config.Sync, error) {
	name := r.PathValue("name")
	sy, ok := s.Project().Syncs[name]
	if !ok {
		return nil, apiErr(http.StatusNotFound, codeNotFound, "no sync named %q", name)
	}
	return sy, nil
}

func (s *Server) describeSync(r *http.Request, sy *config.Sync) (syncJSON, error) {
	out := syncJSON{
		Name: sy.Name, Model: sy.Model, Destination: sy.Destination, Mode: sy.Mode, Object: sy.Object,
		Identifier: sy.Identifier, Mapping: []mappingJSON{}, MapAll: sy.MapAll, Schedule: sy.Schedule.String(),
		MaxChangePct: sy.MaxChangePct, MaxRejectedPct: sy.MaxRejectedPct,
	}
	red := s.redact()
	for _, m := range sy.Mapping {
		mj := mappingJSON{Field: m.Field, Column: m.Column, Template: m.Template}
		if m.IsValue {
			// A static value may come from ${VAR}.
			if str, ok := m.Value.(string); ok {
				mj.Value = red.String(str)
			} else {
				mj.Value = m.Value
			}
		}
		out.Mapping = append(out.Mapping, mj)
	}
	last, err := s.cfg.Store.ListRuns(r.Context(), sy.Name, 1)
	if err != nil {
		return out, err
	}
	if len(last) > 0 {
		out.LastRun = last[0]
	}
	if next, ok := s.cfg.Scheduler.Next(sy.Name); ok {
		out.NextRun = &next
	}
	if s.cfg.Streams != nil {
		if st, ok := s.cfg.Streams(sy.Name); ok {
			st.Error = red.String(st.Error)
			out.Stream = &st
		}
	}
	return out, nil
}

func (s *Server) listSyncs(w http.ResponseWriter, r *http.Request) error {
	p := s.Project()
	names := make([]string, 0, len(p.Syncs))
	for n := range p.Syncs {
		names = append(names, n)
	}
	slices.Sort(names)
	items := make([]syncJSON, 0, len(names))
	for _, n := range names {
		sj, err := s.describeSync(r, p.Syncs[n])
		if err != nil {
			return err
		}
		items = append(items, sj)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getSync(w http.ResponseWriter, r *http.Request) error {
	sy, err := s.syncOf(r)
	if err != nil {
		return err
	}
	sj, err := s.describeSync(r, sy)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sj)
}

func (s *Server) triggerRun(w http.ResponseWriter, r *http.Request) error {
	sy, err := s.syncOf(r)
	if err != nil {
		return err
	}
	var body struct {
		FullResync bool `json:"full_resync"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if sy.Schedule.Kind == config.ScheduleStream {
		return apiErr(http.StatusConflict, codeConflict, "sync %s streams: its changes are delivered as they commit, not in runs", sy.Name)
	}
	id, err := s.cfg.Scheduler.Trigger(r.Context(), sy.Name, TriggerOptions{FullResync: body.FullResync})
	if errors.Is(err, ErrNotAccepting) {
		return apiErr(http.StatusServiceUnavailable, codeUnavailable, "%s", s.redact().Error(err))
	}
	if err != nil {
		return err
	}
	auditTarget(r.Context(), sy.Name+" run "+id)
	w.Header().Set("Location", "/api/v1/runs/"+id)
	return writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": state.StatusQueued})
}

// planJSON is what a plan would do.
type planJSON struct {
	Sync    string              `json:"sync"`
	Status  string              `json:"status"` // planned or failed
	Error   string              `json:"error,omitempty"`
	Counts  state.Counts        `json:"counts"`
	Samples map[string][]string `json:"samples"`
}

func (s *Server) planSync(w http.ResponseWriter, r *http.Request) error {
	sy, err := s.syncOf(r)
	if err != nil {
		return err
	}
	res, err := s.cfg.Plan(r.Context(), s.Project(), sy.Name)
	if err != nil {
		return err
	}
	out := planJSON{Sync: sy.Name, Status: "planned", Counts: res.Run.Counts, Samples: res.Samples}
	if out.Samples == nil {
		out.Samples = map[string][]string{}
	}
	if res.Err != nil {
		out.Status, out.Error = state.StatusFailed, s.redact().Error(res.Err)
	}
	return writeJSON(w, http.StatusOK, out)
}

var runStatuses = []string{state.StatusQueued, state.StatusRunning, state.StatusSucceeded, state.StatusPartial, state.StatusFailed}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	pg, err := pageOf(r, defaultLimit, maxLimit)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := state.RunFilter{Sync: q.Get("sync"), Status: q.Get("status"), Limit: pg.limit + 1, Offset: pg.offset}
	if f.Status != "" && !slices.Contains(runStatuses, f.Status) {
		return apiErr(http.StatusBadRequest, codeInvalidRequest, "status=%q: want one of %v", f.Status, runStatuses)
	}
	runs, err := s.cfg.Store.FindRuns(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageList(runs, pg))
}

func (s *Server) runOf(r *http.Request) (*state.Run, error) {
	id := r.PathValue("id")
	run, err := s.cfg.Store.GetRun(r.Context(), id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, apiErr(http.StatusNotFound, codeNotFound, "no run with ID %q", id)
	}
	if err != nil && strings.Contains(err.Error(), "ambiguous") {
		// An ID prefix that matches several runs.
		return nil, apiErr(http.StatusBadRequest, codeInvalidRequest, "%s", err)
	}
	if err != nil {
		return nil, err
	}
	return run, nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.runOf(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, run)
}

func (s *Server) runErrors(w http.ResponseWriter, r *http.Request) error {
	run, err := s.runOf(r)
	if err != nil {
		return err
	}
	pg, err := pageOf(r, 100, state.MaxRowErrors)
	if err != nil {
		return err
	}
	errs, err := s.cfg.Store.RowErrors(r.Context(), run.ID, pg.limit+1, pg.offset)
	if err != nil {
		return err
	}
	l := pageList(errs, pg)
	l.Total = &run.RowErrors
	return writeJSON(w, http.StatusOK, l)
}

func (s *Server) runRequests(w http.ResponseWriter, r *http.Request) error {
	run, err := s.runOf(r)
	if err != nil {
		return err
	}
	pg, err := pageOf(r, 100, state.MaxRequests)
	if err != nil {
		return err
	}
	reqs, err := s.cfg.Store.Requests(r.Context(), run.ID, pg.limit+1, pg.offset)
	if err != nil {
		return err
	}
	l := pageList(reqs, pg)
	l.Total = &run.Requests
	return writeJSON(w, http.StatusOK, l)
}
