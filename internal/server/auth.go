package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/state"
)

// authenticate checks the request's bearer token and that its role allows
// need. The token itself is never logged or echoed.
func (s *Server) authenticate(r *http.Request, need string) (state.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return state.Token{}, apiErr(http.StatusUnauthorized, codeUnauthorized, "missing token: send Authorization: Bearer <token> (riptide tokens create)")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return state.Token{}, apiErr(http.StatusUnauthorized, codeUnauthorized, "the Authorization header must be Bearer <token>")
	}
	who, err := s.cfg.Store.Authenticate(r.Context(), strings.TrimSpace(token))
	if errors.Is(err, state.ErrBadToken) {
		return state.Token{}, apiErr(http.StatusUnauthorized, codeUnauthorized, "unknown or revoked token")
	}
	if err != nil {
		return state.Token{}, err
	}
	if !state.RoleAllows(who.Role, need) {
		return who, apiErr(http.StatusForbidden, codeForbidden, "token %q has role %s; this needs %s", who.Name, who.Role, need)
	}
	return who, nil
}

// auditCall carries what a handler acted on to the audit entry.
type auditCall struct{ on string }

type auditKey struct{}

// auditTarget records what the call acts on, for the audit log.
func auditTarget(ctx context.Context, target string) {
	if c, ok := ctx.Value(auditKey{}).(*auditCall); ok {
		c.on = target
	}
}

// target is what the call acted on: what the handler said, else the
// path's name.
func (c *auditCall) target(r *http.Request) string {
	if c.on != "" {
		return c.on
	}
	if n := r.PathValue("name"); n != "" {
		return n
	}
	return r.URL.Path
}

func (s *Server) audit(r *http.Request, who state.Token, action, target string, status int) {
	outcome := "ok"
	switch {
	case status == http.StatusForbidden:
		outcome = "denied"
	case status >= 400:
		outcome = "error"
	}
	// The entry is written even when the client went away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	err := s.cfg.Store.AddAudit(ctx, state.AuditEntry{Token: who.Name, Role: who.Role, Action: action, Target: target, Outcome: outcome, Status: status})
	if err != nil {
		s.logger.Error("api: audit log", "err", err, "action", action)
	}
}
