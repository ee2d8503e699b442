// Package slacktest is an emulator of Slack's Web API methods
// chat.postMessage and conversations.list, written from Slack's public
// reference (the "chat.postMessage method", "conversations.list method",
// "Pagination" and "Rate limits" pages): POST
// /api/chat.postMessage with a JSON or form-encoded body, the token as a
// Bearer Authorization header or a token parameter, the channel as an ID
// or a name (with or without #), text and/or blocks, and Slack's way of
// answering: HTTP 200 with {"ok": true, "channel", "ts", "message"} or
// {"ok": false, "error": code} (not_authed, invalid_auth, token_revoked,
// channel_not_found, is_archived, no_text, msg_too_long, invalid_blocks),
// and HTTP 429 with Retry-After and {"ok": false, "error": "ratelimited"}
// past the posting limit of one message per second per channel.
// conversations.list pages through the channels by cursor
// (response_metadata.next_cursor), honours types, exclude_archived and
// limit, lists private channels only to members, and answers a token
// without channels:read or groups:read with missing_scope (needed,
// provided). Every answer carries the token's scopes in X-OAuth-Scopes.
// It keeps the posted messages so tests can assert end state.
package slacktest

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Limits of chat.postMessage.
const (
	MaxText   = 40000
	MaxBlocks = 50
)

// Message is one posted message.
type Message struct {
	Channel string // the channel's ID
	Text    string
	Blocks  []map[string]any
	TS      string
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the bot token the emulator accepts.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithAddr makes the emulator listen on addr (default 127.0.0.1:0).
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithClock replaces the clock the rate limit counts by.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithChannel adds a public channel the bot is a member of (beyond the
// default C0GENERAL "general" and C0ALERTS "alerts").
func WithChannel(id, name string) Option { return func(s *Server) { s.channels[id] = name } }

// WithPrivateChannel adds a private channel the bot is a member of.
func WithPrivateChannel(id, name string) Option {
	return func(s *Server) { s.channels[id], s.private[id] = name, true }
}

// WithUnjoinedChannel adds a public channel the bot is not a member of:
// conversations.list shows it with is_member false and chat.postMessage
// answers not_in_channel unless the token has chat:write.public.
func WithUnjoinedChannel(id, name string) Option {
	return func(s *Server) { s.channels[id], s.unjoined[id] = name, true }
}

// WithScopes sets the token's OAuth scopes (default chat:write,
// channels:read, groups:read).
func WithScopes(scopes ...string) Option { return func(s *Server) { s.scopes = scopes } }

// WithRateLimit sets the posting limit: at most n messages per channel in
// any span of per (default 1 per second); n = 0 turns it off.
func WithRateLimit(n int, per time.Duration) Option {
	return func(s *Server) { s.limit, s.per = n, per }
}

// Server is a running emulator.
type Server struct {
	token string
	addr  string
	now   func() time.Time
	limit int
	per   time.Duration
	ln    net.Listener
	srv   *http.Server

	mu       sync.Mutex
	scopes   []string
	channels map[string]string      // ID → name
	private  map[string]bool        // IDs of private channels
	unjoined map[string]bool        // IDs of public channels the bot is not in
	archived map[string]bool        // IDs
	posts    map[string][]time.Time // channel ID → recent post times
	messages []Message
	faults   []fault
	revoked  bool
	requests int
	limited  int
}

type fault struct {
	status int
	code   string
}

// New starts an emulator on 127.0.0.1 (or WithAddr's address).
func New(opts ...Option) (*Server, error) {
	s := &Server{
		token:    "xoxb-riptide-test-token",
		addr:     "127.0.0.1:0",
		now:      time.Now,
		limit:    1,
		per:      time.Second,
		scopes:   []string{"chat:write", "channels:read", "groups:read"},
		channels: map[string]string{"C0GENERAL": "general", "C0ALERTS": "alerts"},
		private:  map[string]bool{},
		unjoined: map[string]bool{},
		archived: map[string]bool{},
		posts:    map[string][]time.Time{},
	}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("slack emulator: listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL to give the destination as base_url; the official
// clients take URL()+"/api/".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Token is the bot token the emulator accepts.
func (s *Server) Token() string { return s.token }

// Close stops the emulator.
func (s *Server) Close() error { return s.srv.Close() }

// RevokeToken makes every later request fail with token_revoked, as after
// the app was uninstalled.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// Archive archives a channel: posts to it fail with is_archived and
// conversations.list leaves it out under exclude_archived.
func (s *Server) Archive(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.archived[id] = true
}

// FailNextStatus answers the next authenticated requests with the given
// HTTP statuses, in order: 429 with Retry-After: 1, others with an error.
func (s *Server) FailNextStatus(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range statuses {
		s.faults = append(s.faults, fault{status: st})
	}
}

// FailNextError answers the next authenticated requests with HTTP 200 and
// {"ok": false, "error": code}, in order.
func (s *Server) FailNextError(codes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range codes {
		s.faults = append(s.faults, fault{status: http.StatusOK, code: c})
	}
}

// Requests is the number of requests received, refused ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// RateLimited is the number of requests refused with 429 by the rate limit
// (injected faults excluded).
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Messages returns the posted messages in order of arrival.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// channelID resolves an ID, a name or a #name to a channel ID.
func (s *Server) channelID(ch string) (string, bool) {
	if _, ok := s.channels[ch]; ok {
		return ch, true
	}
	name := strings.TrimPrefix(ch, "#")
	for id, n := range s.channels {
		if n == name {
			return id, true
		}
	}
	return "", false
}
