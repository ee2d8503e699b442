package engine

import (
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/redact"
	"github.com/riptide-data/riptide/internal/state"
)

func TestRequestObserverSeesRequestsPastTheCap(t *testing.T) {
	var seen []int
	SetRequestObserver(func(r connector.Request) { seen = append(seen, r.Status) })
	defer SetRequestObserver(nil)
	l := &requestLog{redactor: redact.New(nil)}
	for range state.MaxRequests + 2 {
		l.LogRequest(connector.Request{Method: "POST", Status: 202})
	}
	if len(seen) != state.MaxRequests+2 || len(l.pending) != state.MaxRequests {
		t.Fatalf("observer saw %d, log kept %d", len(seen), len(l.pending))
	}
	SetRequestObserver(nil)
	l.LogRequest(connector.Request{Status: 500})
	if len(seen) != state.MaxRequests+2 {
		t.Fatal("removed observer still called")
	}
}
