package server

import (
	"errors"
	"net/http"

	"github.com/riptide-data/riptide/internal/state"
)

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.cfg.Store.Tokens(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": toks})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	auditTarget(r.Context(), body.Name)
	if err := state.CheckTokenName(body.Name); err != nil {
		return apiErr(http.StatusBadRequest, codeInvalidRequest, "%s", err)
	}
	if !state.RoleAllows(body.Role, state.RoleViewer) {
		return apiErr(http.StatusBadRequest, codeInvalidRequest, "role %q: want one of %v", body.Role, state.Roles)
	}
	tok, err := s.cfg.Store.CreateToken(r.Context(), body.Name, body.Role)
	if errors.Is(err, state.ErrTokenExists) {
		return apiErr(http.StatusConflict, codeConflict, "a token named %q exists (revoke it first)", body.Name)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"name": body.Name, "role": body.Role, "token": tok})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	err := s.cfg.Store.RevokeToken(r.Context(), name)
	if errors.Is(err, state.ErrNotFound) {
		return apiErr(http.StatusNotFound, codeNotFound, "no token named %q", name)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) readAudit(w http.ResponseWriter, r *http.Request) error {
	pg, err := pageOf(r, 100, maxLimit)
	if err != nil {
		return err
	}
	entries, err := s.cfg.Store.Audit(r.Context(), pg.limit+1, pg.offset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, pageList(entries, pg))
}
