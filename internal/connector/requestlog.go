package connector

import "time"

// Request is one request a destination made, for the run's request log
// (the "debugger"): what was sent, what came back, how long it took.
type Request struct {
	At      time.Time
	Method  string
	URL     string // without credentials
	Status  int    // 0 when no response came
	Latency time.Duration
	// Bodies are the start of each body, as sent and received.
	RequestBody  string
	ResponseBody string
	Error        string // transport error, if any
}

// RequestLog receives a run's requests. Implementations are safe for
// concurrent use, cap what they keep, and mask secrets.
type RequestLog interface {
	LogRequest(Request)
	// Full reports that nothing more will be kept, so that callers can
	// skip capturing bodies.
	Full() bool
}
