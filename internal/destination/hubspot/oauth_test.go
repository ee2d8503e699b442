package hubspot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
)

// clock is a settable clock shared by the emulator and the connector.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func oauthSettingsFor(s *hubspottest.Server) connector.Settings {
	id, secret, refresh := s.OAuthApp()
	return connector.Settings{"client_id": id, "client_secret": secret, "refresh_token": refresh, "base_url": s.URL()}
}

// openOAuth opens a destination authenticated as a public app whose
// expiry checks read connectorNow.
func openOAuth(t *testing.T, set connector.Settings, connectorNow func() time.Time) *Destination {
	t.Helper()
	d, err := newDestination(spec().WithDefaults(set), connector.Target{Sync: "s", Mode: "upsert", Object: "contacts"})
	if err != nil {
		t.Fatal(err)
	}
	d.oauth.now = connectorNow
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func upsert(t *testing.T, d *Destination, emails ...string) error {
	t.Helper()
	b := &connector.Batch{Seq: 1}
	for _, e := range emails {
		b.Records = append(b.Records, contact(connector.OpUpsert, e, "Ada"))
	}
	return d.Write(t.Context(), b)
}

func TestOAuthRefresh(t *testing.T) {
	tests := []struct {
		name string
		// between runs after the first write: it may move the emulator's
		// and the connector's clocks.
		between     func(emu, conn *clock)
		wantTokens  int // token requests after both writes
		wantAPICall int // API requests after both writes
	}{
		{"token reused while fresh", func(emu, conn *clock) { emu.advance(time.Minute); conn.advance(time.Minute) }, 1, 2},
		{"refreshed before expiry", func(emu, conn *clock) { emu.advance(29 * time.Minute); conn.advance(29 * time.Minute) }, 2, 2},
		// The connector's clock lags, so it sends the expired token and
		// mends the 401 by refreshing once.
		{"refreshed on expired 401", func(emu, conn *clock) { emu.advance(31 * time.Minute) }, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, conn := &clock{t: time.Unix(1_700_000_000, 0)}, &clock{t: time.Unix(1_700_000_000, 0)}
			s := emulator(t, hubspottest.WithClock(emu.now), hubspottest.WithTokenTTL(30*time.Minute))
			d := openOAuth(t, oauthSettingsFor(s), conn.now)
			if err := upsert(t, d, "a@example.com"); err != nil {
				t.Fatalf("first write: %v", err)
			}
			if got := s.TokenRequests(); got != 1 {
				t.Fatalf("token requests after first write = %d, want 1", got)
			}
			tt.between(emu, conn)
			if err := upsert(t, d, "b@example.com"); err != nil {
				t.Fatalf("second write: %v", err)
			}
			if got := s.TokenRequests(); got != tt.wantTokens {
				t.Errorf("token requests = %d, want %d", got, tt.wantTokens)
			}
			if got := s.Requests(); got != tt.wantAPICall {
				t.Errorf("API requests = %d, want %d", got, tt.wantAPICall)
			}
			if got := len(s.Records("contacts", "email")); got != 2 {
				t.Errorf("records held = %d, want 2", got)
			}
		})
	}
}

func TestOAuthFailures(t *testing.T) {
	tests := []struct {
		name      string
		opts      []hubspottest.Option
		set       func(connector.Settings)
		want      string
		maxTokens int
	}{
		{"bad refresh token", nil, func(s connector.Settings) { s["refresh_token"] = "wrong" }, "BAD_REFRESH_TOKEN", 1},
		{"bad client secret", nil, func(s connector.Settings) { s["client_secret"] = "wrong" }, "BAD_CLIENT_SECRET", 1},
		// Tokens that are expired on issue: the one refresh after the 401
		// does not mend it, so the run stops instead of looping.
		// (first token, the refresh after the 401, and the repeat's own
		// refresh of a token already past its lifetime).
		{"still expired after refresh", []hubspottest.Option{hubspottest.WithTokenTTL(0)}, func(connector.Settings) {}, "EXPIRED_AUTHENTICATION", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, tt.opts...)
			set := oauthSettingsFor(s)
			tt.set(set)
			d := openOAuth(t, set, time.Now)
			err := upsert(t, d, "a@example.com")
			if !connector.IsAuth(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want an auth failure mentioning %s", err, tt.want)
			}
			if got := s.TokenRequests(); got > tt.maxTokens {
				t.Errorf("token requests = %d, want at most %d", got, tt.maxTokens)
			}
			if len(s.Records("contacts", "email")) != 0 {
				t.Error("a record was written without valid credentials")
			}
		})
	}
}

func TestOAuthSharedAcrossConcurrentWrites(t *testing.T) {
	s := emulator(t)
	d := openOAuth(t, oauthSettingsFor(s), time.Now)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() { errs <- upsert(t, d, fmt.Sprintf("u%d@example.com", i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1 shared by all writes", got)
	}
	if got := len(s.Records("contacts", "email")); got != 8 {
		t.Errorf("records held = %d, want 8", got)
	}
}

func TestAuthSettingsExactlyOneWay(t *testing.T) {
	app := connector.Settings{"client_id": "c", "client_secret": "s", "refresh_token": "r"}
	tests := []struct {
		name string
		set  connector.Settings
		want string // "" when accepted
	}{
		{"private app", connector.Settings{"access_token": "t"}, ""},
		{"public app", app, ""},
		{"both", connector.Settings{"access_token": "t", "client_id": "c", "client_secret": "s", "refresh_token": "r"}, "not both"},
		{"neither", connector.Settings{}, "either access_token"},
		{"public app without refresh token", connector.Settings{"client_id": "c", "client_secret": "s"}, "missing refresh_token"},
		{"public app without client", connector.Settings{"refresh_token": "r"}, "missing client_id, client_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newDestination(spec().WithDefaults(tt.set), connector.Target{Mode: "upsert", Object: "contacts"})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v, want accepted", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// memLog is a run's request log kept in memory.
type memLog struct {
	mu   sync.Mutex
	reqs []connector.Request
}

func (m *memLog) Full() bool { return false }

func (m *memLog) LogRequest(r connector.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs = append(m.reqs, r)
}

// The token request carries the client secret and refresh token, so it
// must stay out of the run's request log while API calls are logged.
func TestTokenRequestNotLogged(t *testing.T) {
	s := emulator(t)
	log := &memLog{}
	d, err := newDestination(spec().WithDefaults(oauthSettingsFor(s)), connector.Target{Sync: "s", Mode: "upsert", Object: "contacts", Requests: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	if err := upsert(t, d, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	_, secret, refresh := s.OAuthApp()
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.reqs) != 1 || !strings.Contains(log.reqs[0].URL, "/batch/upsert") {
		t.Fatalf("logged requests = %+v, want the one upsert", log.reqs)
	}
	for _, r := range log.reqs {
		if strings.Contains(r.URL, "/oauth/") || strings.Contains(r.RequestBody+r.ResponseBody, secret) || strings.Contains(r.RequestBody+r.ResponseBody, refresh) {
			t.Errorf("request log holds OAuth credentials: %+v", r)
		}
	}
}
