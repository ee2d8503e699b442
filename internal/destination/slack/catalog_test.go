package slack

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
)

func TestCatalogObjects(t *testing.T) {
	tests := []struct {
		name     string
		opts     []slacktest.Option
		archive  []string
		token    string // default: the emulator's
		pageSize int
		statuses []int
		codes    []string
		want     []string // object names, in order
		wantReqs int
		wantErr  []string // substrings of the error
	}{
		{
			name:     "members' channels, public and private, one page",
			opts:     []slacktest.Option{slacktest.WithPrivateChannel("G0SECRET", "secret")},
			want:     []string{"C0ALERTS", "C0GENERAL", "G0SECRET"},
			wantReqs: 1,
		},
		{
			name: "pages by cursor",
			opts: []slacktest.Option{
				slacktest.WithChannel("C1", "one"), slacktest.WithChannel("C2", "two"),
				slacktest.WithChannel("C3", "three"), slacktest.WithPrivateChannel("G4", "four"),
			},
			pageSize: 2,
			want:     []string{"C0ALERTS", "C0GENERAL", "C1", "C2", "C3", "G4"},
			wantReqs: 3,
		},
		{
			name:     "archived channels left out",
			archive:  []string{"C0ALERTS"},
			want:     []string{"C0GENERAL"},
			wantReqs: 1,
		},
		{
			name:     "public channels the bot is not in are left out",
			opts:     []slacktest.Option{slacktest.WithUnjoinedChannel("C0OTHER", "other")},
			want:     []string{"C0ALERTS", "C0GENERAL"},
			wantReqs: 1,
		},
		{
			name: "chat:write.public lists public channels the bot is not in",
			opts: []slacktest.Option{
				slacktest.WithUnjoinedChannel("C0OTHER", "other"),
				slacktest.WithScopes("chat:write", "chat:write.public", "channels:read", "groups:read"),
			},
			want:     []string{"C0ALERTS", "C0GENERAL", "C0OTHER"},
			wantReqs: 1,
		},
		{
			name:     "ratelimited is waited out",
			statuses: []int{429},
			want:     []string{"C0ALERTS", "C0GENERAL"},
			wantReqs: 2,
		},
		{
			name:    "a wrong token is an authentication failure",
			token:   "xoxb-wrong",
			wantErr: []string{"authentication failed", "invalid_auth", "conversations.list"},
		},
		{
			name:    "a missing scope names the scopes to add",
			opts:    []slacktest.Option{slacktest.WithScopes("chat:write", "channels:read")},
			wantErr: []string{"missing_scope", "needed groups:read", "provided chat:write,channels:read", "add channels:read and groups:read"},
		},
		{
			name:    "another error code is reported",
			codes:   []string{"invalid_cursor"},
			wantErr: []string{"conversations.list", "invalid_cursor"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := slacktest.New(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			for _, id := range tt.archive {
				s.Archive(id)
			}
			s.FailNextStatus(tt.statuses...)
			s.FailNextError(tt.codes...)
			token := s.Token()
			if tt.token != "" {
				token = tt.token
			}
			c, err := newCatalog(spec().WithDefaults(connector.Settings{"token": token, "base_url": s.URL()}))
			if err != nil {
				t.Fatal(err)
			}
			if tt.pageSize > 0 {
				c.pageSize = tt.pageSize
			}
			var waits []time.Duration
			c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			objs, err := c.Objects(t.Context())
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Objects = %v, want an error", objs)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want it to contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), s.Token()) {
					t.Errorf("the token leaked into the error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range objs {
				names = append(names, o.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("objects = %v, want %v", names, tt.want)
			}
			if s.Requests() != tt.wantReqs {
				t.Errorf("%d requests, want %d", s.Requests(), tt.wantReqs)
			}
			if len(tt.statuses) > 0 && !slices.Equal(waits, []time.Duration{time.Second}) {
				t.Errorf("waits = %v, want the Retry-After of 1s", waits)
			}
		})
	}
}

func TestCatalogObjectNames(t *testing.T) {
	s, err := slacktest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := NewCatalog(t.Context(), spec().WithDefaults(connector.Settings{"token": s.Token(), "base_url": s.URL()}), "")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := c.Objects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A sync's object may be the ID, #name or name; New and
	// chat.postMessage accept all three.
	want := connector.ObjectInfo{Name: "C0GENERAL", Label: "general", Aliases: []string{"#general", "general"}}
	i := slices.IndexFunc(objs, func(o connector.ObjectInfo) bool { return o.Name == want.Name })
	if i < 0 || objs[i].Label != want.Label || !slices.Equal(objs[i].Aliases, want.Aliases) {
		t.Errorf("objects = %+v, want one %+v", objs, want)
	}
	for _, object := range []string{"C0GENERAL", "#general", "general"} {
		if _, err := newDestination(spec().WithDefaults(connector.Settings{"token": s.Token(), "base_url": s.URL()}),
			connector.Target{Sync: "s", Mode: "insert", Object: object}); err != nil {
			t.Errorf("New refuses object %q that the catalog lists: %v", object, err)
		}
	}
}

func TestCatalogFieldsNotListed(t *testing.T) {
	c, err := newCatalog(spec().WithDefaults(connector.Settings{"token": "xoxb-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fields(t.Context(), "C0GENERAL"); !errors.Is(err, connector.ErrNotListed) {
		t.Errorf("Fields err = %v, want ErrNotListed", err)
	}
}

func TestNewCatalogRefuses(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settings connector.Settings
		want     string
	}{
		{"no token", connector.Settings{}, "token is required"},
		{"bad base_url", connector.Settings{"token": "xoxb-1", "base_url": "slack.com"}, "want an http or https URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCatalog(t.Context(), spec().WithDefaults(tt.settings), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPostUnjoinedChannel(t *testing.T) {
	s, err := slacktest.New(slacktest.WithUnjoinedChannel("C0OTHER", "other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	d := open(t, s.URL(), s.Token(), nil, connector.Target{Object: "C0OTHER"})
	err = d.post(t.Context(), d.body("hi", nil))
	var se *slackError
	if !errors.As(err, &se) || se.Code != "not_in_channel" {
		t.Errorf("post to a channel the bot is not in: err = %v, want not_in_channel", err)
	}
}
