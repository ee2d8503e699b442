package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// postArgs are the chat.postMessage arguments the emulator reads.
type postArgs struct {
	Token   string          `json:"token"`
	Channel string          `json:"channel"`
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++

	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method"})
		return
	}
	if method != "chat.postMessage" && method != "conversations.list" {
		// Slack answers an unknown method under a 200 too.
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method", "req_method": method})
		return
	}
	args, params, err := parseArgs(r)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data", "warning": err.Error()})
		return
	}
	token := args.Token
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	switch {
	case token == "":
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "not_authed"})
		return
	case token != s.token:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	case s.revoked:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "token_revoked"})
		return
	}
	// Slack reports the token's scopes on every authenticated answer.
	w.Header().Set("X-OAuth-Scopes", strings.Join(s.scopes, ","))
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		switch {
		case f.status == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, f.status, map[string]any{"ok": false, "error": "ratelimited"})
		case f.status != http.StatusOK:
			writeJSON(w, f.status, map[string]any{"ok": false, "error": "fatal_error"})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": f.code})
		}
		return
	}
	if method == "conversations.list" {
		s.list(w, params)
		return
	}
	id, ok := s.channelID(args.Channel)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if s.archived[id] {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "is_archived"})
		return
	}
	if s.unjoined[id] && !slices.Contains(s.scopes, "chat:write.public") {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "not_in_channel"})
		return
	}
	var blocks []map[string]any
	if len(args.Blocks) > 0 {
		if err := json.Unmarshal(args.Blocks, &blocks); err != nil || len(blocks) > MaxBlocks || !typed(blocks) {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_blocks"})
			return
		}
	}
	switch {
	case strings.TrimSpace(args.Text) == "" && len(blocks) == 0:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "no_text"})
		return
	case utf8.RuneCountInString(args.Text) > MaxText:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "msg_too_long"})
		return
	}
	now := s.now()
	if s.limit > 0 {
		// A rolling window per channel: at most limit posts in any span
		// of per, as the posting limit is stated per channel.
		recent := s.posts[id][:0]
		for _, t := range s.posts[id] {
			if now.Sub(t) < s.per {
				recent = append(recent, t)
			}
		}
		s.posts[id] = recent
		if len(recent) >= s.limit {
			s.limited++
			wait := s.per - now.Sub(recent[0])
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
		s.posts[id] = append(s.posts[id], now)
	}
	ts := fmt.Sprintf("%d.%06d", now.Unix(), len(s.messages)+1)
	s.messages = append(s.messages, Message{Channel: id, Text: args.Text, Blocks: blocks, TS: ts})
	msg := map[string]any{"type": "message", "subtype": "bot_message", "text": args.Text, "ts": ts}
	if blocks != nil {
		msg["blocks"] = blocks
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": id, "ts": ts, "message": msg})
}

// parseArgs reads the arguments from a JSON body or a form (Slack's
// clients send forms, with blocks as a JSON string), and all of them, with
// the query's, as strings for methods that take scalars only.
func parseArgs(r *http.Request) (postArgs, url.Values, error) {
	var a postArgs
	params := r.URL.Query()
	data, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return a, nil, fmt.Errorf("read body: %w", err)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return a, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if err := json.Unmarshal(data, &a); err != nil {
			return a, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		for k, v := range raw {
			var str string
			if json.Unmarshal(v, &str) != nil {
				str = string(v)
			}
			params.Set(k, str)
		}
	case "application/x-www-form-urlencoded", "":
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return a, nil, fmt.Errorf("invalid form: %w", err)
		}
		for k, v := range form {
			params[k] = v
		}
		a.Token, a.Channel, a.Text = params.Get("token"), params.Get("channel"), params.Get("text")
		if b := params.Get("blocks"); b != "" {
			a.Blocks = json.RawMessage(b)
		}
	default:
		return a, nil, fmt.Errorf("unsupported content type %s", mt)
	}
	return a, params, nil
}

// typed reports whether every block names its type, as Block Kit requires.
func typed(blocks []map[string]any) bool {
	for _, b := range blocks {
		if t, _ := b["type"].(string); t == "" {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
