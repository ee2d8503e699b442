package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
)

// Error codes: stable, for clients to branch on (the message is for
// people and may change).
const (
	codeInvalidRequest = "invalid_request"
	codeUnauthorized   = "unauthorized"
	codeForbidden      = "forbidden"
	codeNotFound       = "not_found"
	codeConflict       = "conflict"
	codeTooLarge       = "request_too_large"
	codeInvalidConfig  = "invalid_config"
	codeUnavailable    = "unavailable"
	codeInternal       = "internal"
)

// apiError is an error answered as {"error": {"code", "message"}}.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func apiErr(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func isForbidden(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == codeForbidden
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers err. Errors that are not an *apiError are internal:
// they are logged, and the client gets a generic message, since they may
// hold paths or driver details.
func writeError(w http.ResponseWriter, logger *slog.Logger, err error) {
	var ae *apiError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &tooBig):
		ae = apiErr(http.StatusRequestEntityTooLarge, codeTooLarge, "the request body is larger than %d bytes", tooBig.Limit)
	default:
		logger.Error("api: internal error", "err", err)
		ae = apiErr(http.StatusInternalServerError, codeInternal, "internal error (logged by the server)")
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="riptide"`)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = ae.code, ae.message
	_ = writeJSON(w, ae.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// Paging bounds.
const (
	defaultLimit = 50
	maxLimit     = 500
)

type page struct{ limit, offset int }

// pageOf reads ?limit= and ?offset=.
func pageOf(r *http.Request, def, max int) (page, error) {
	p := page{limit: def}
	for _, q := range []struct {
		name string
		dst  *int
		min  int
	}{{"limit", &p.limit, 1}, {"offset", &p.offset, 0}} {
		raw := r.URL.Query().Get(q.name)
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < q.min {
			return p, apiErr(http.StatusBadRequest, codeInvalidRequest, "%s=%q: want an integer of at least %d", q.name, raw, q.min)
		}
		*q.dst = n
	}
	if p.limit > max {
		return p, apiErr(http.StatusBadRequest, codeInvalidRequest, "limit=%d: at most %d", p.limit, max)
	}
	return p, nil
}

// list is a page of items. NextOffset is set when more items follow.
type list[T any] struct {
	Items      []T  `json:"items"`
	Limit      int  `json:"limit"`
	Offset     int  `json:"offset"`
	NextOffset *int `json:"next_offset,omitempty"`
	// Total, where known, counts every item, including those the store
	// did not keep (row errors and requests are capped per run).
	Total *uint64 `json:"total,omitempty"`
}

// pageList makes a list from up to limit+1 fetched items: the extra one
// only says there is more.
func pageList[T any](items []T, p page) list[T] {
	l := list[T]{Items: items, Limit: p.limit, Offset: p.offset}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(l.Items) > p.limit {
		l.Items = l.Items[:p.limit]
		next := p.offset + p.limit
		l.NextOffset = &next
	}
	return l
}

// decodeBody reads an optional JSON body into v; unknown fields are an
// error, so that a misspelt option is not silently ignored.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		if err.Error() == "EOF" {
			return nil
		}
		return apiErr(http.StatusBadRequest, codeInvalidRequest, "request body: %v", err)
	}
	if dec.More() {
		return apiErr(http.StatusBadRequest, codeInvalidRequest, "request body: one JSON object expected")
	}
	return nil
}
