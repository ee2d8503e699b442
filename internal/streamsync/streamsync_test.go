package streamsync

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/config"
	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/engine"
	"github.com/riptide-data/riptide/internal/redact"
)

func project(url string) *config.Project {
	return &config.Project{
		Sources: map[string]*config.Source{"pg": {Name: "pg", Type: "postgres", Settings: connector.Settings{"url": url}}},
		Destinations: map[string]*config.Destination{
			"hook": {Name: "hook", Type: "webhook", Settings: connector.Settings{"url": "http://127.0.0.1:1/"}},
		},
		Models: map[string]*config.Model{"users": {Name: "users", Source: "pg", PrimaryKey: []string{"id"}, SQL: "select id, email from users"}},
		Syncs: map[string]*config.Sync{
			"live":    {Name: "live", Model: "users", Destination: "hook", Mode: config.ModeUpsert, Schedule: config.Schedule{Kind: config.ScheduleStream}},
			"nightly": {Name: "nightly", Model: "users", Destination: "hook", Mode: config.ModeUpsert, Schedule: config.Schedule{Kind: config.ScheduleCron, Cron: "0 3 * * *"}},
		},
	}
}

func TestFingerprintFollowsWhatAStreamDependsOn(t *testing.T) {
	p := project("postgres://127.0.0.1:5432/app")
	before := fingerprint(p, p.Syncs["live"])
	if before == "" || before != fingerprint(project("postgres://127.0.0.1:5432/app"), p.Syncs["live"]) {
		t.Fatalf("fingerprint of the same configuration differs (or is empty): %q", before)
	}
	for name, change := range map[string]func(*config.Project){
		"mapping":     func(p *config.Project) { p.Syncs["live"].Mapping = []config.Mapping{{Field: "e", Column: "email"}} },
		"model sql":   func(p *config.Project) { p.Models["users"].SQL = "select id from users" },
		"source url":  func(p *config.Project) { p.Sources["pg"].Settings["url"] = "postgres://127.0.0.1:5432/other" },
		"destination": func(p *config.Project) { p.Destinations["hook"].Settings["url"] = "http://127.0.0.1:2/" },
	} {
		q := project("postgres://127.0.0.1:5432/app")
		change(q)
		if fingerprint(q, q.Syncs["live"]) == before {
			t.Errorf("changing the %s leaves the fingerprint: the stream would not restart", name)
		}
	}
	q := project("postgres://127.0.0.1:5432/app")
	q.Syncs["nightly"].Mapping = []config.Mapping{{Field: "e", Column: "email"}}
	if fingerprint(q, q.Syncs["live"]) != before {
		t.Error("changing another sync changes the stream's fingerprint")
	}
}

func TestSlotNameIsAValidSlotPerDatabaseAndSync(t *testing.T) {
	a, err := SlotName("postgres://127.0.0.1/app", "Users → CRM")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SlotName("postgres://127.0.0.1/other", "Users → CRM")
	if !strings.HasPrefix(a, "riptide_users___crm_") || a == b || len(a) > 63 {
		t.Errorf("slot names %q and %q", a, b)
	}
	long, _ := SlotName("postgres://127.0.0.1/app", strings.Repeat("x", 100))
	if len(long) > 63 {
		t.Errorf("slot name of %d characters", len(long))
	}
	if _, err := SlotName("::not a url", "s"); err == nil {
		t.Error("an invalid URL gave a slot name")
	}
}

// TestSupervisorRetriesAFailingStream follows a sync whose database does
// not answer: the stream is retried with its error shown, secrets masked,
// and a sync that does not stream is not followed.
func TestSupervisorRetriesAFailingStream(t *testing.T) {
	p := project("postgres://riptide:s3cret-pw@127.0.0.1:1/app?connect_timeout=2")
	e := &engine.Engine{Project: p, Redactor: redact.New([]string{"s3cret-pw"})}
	statuses := make(chan Status, 100)
	s := NewSupervisor(SupervisorConfig{
		Logger:     func() *slog.Logger { return slog.New(slog.DiscardHandler) },
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, LagInterval: time.Hour,
		OnStatus: func(st Status) {
			select {
			case statuses <- st:
			default:
			}
		},
	})
	s.Apply(context.Background(), e)
	defer s.Stop()
	var last Status
	for last.Restarts < 2 {
		select {
		case last = <-statuses:
		case <-time.After(30 * time.Second):
			t.Fatalf("no second restart; last status %+v", last)
		}
	}
	if last.Sync != "live" || last.State != StateRetrying || last.Error == "" || strings.Contains(last.Error, "s3cret-pw") {
		t.Errorf("status %+v", last)
	}
	if _, ok := s.Status("nightly"); ok {
		t.Error("the cron sync is followed as a stream")
	}
	if all := s.All(); len(all) != 1 || all[0].Sync != "live" {
		t.Errorf("All: %+v", all)
	}
	// The sync stops streaming: its stream stops.
	p2 := project("postgres://riptide:s3cret-pw@127.0.0.1:1/app")
	p2.Syncs["live"].Schedule = config.Schedule{Kind: config.ScheduleManual}
	s.Apply(context.Background(), &engine.Engine{Project: p2, Redactor: e.Redactor})
	if _, ok := s.Status("live"); ok {
		t.Error("a sync that no longer streams is still followed")
	}
}
