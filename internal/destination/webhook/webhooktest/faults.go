package webhooktest

import (
	"maps"
	"math/rand/v2"
	"time"
)

// Failure is an answer the emulator gives instead of accepting a request.
type Failure struct {
	Status int // 429, 500, 400 …
	// Body is the response body; empty gives {"error": "<status text>"}.
	Body string
	// RetryAfter is the Retry-After header, as seconds ("2") or an HTTP
	// date; empty sends none.
	RetryAfter string
}

// faults are the programmed misbehaviours; guarded by Server.mu.
type faults struct {
	next []Failure         // answers for the next requests, in order
	keys map[string]string // key → message in results, ok:false
	// keyRule refuses records in results by a rule over the key (message
	// "" accepts), for refusing a share of millions of keys.
	keyRule func(key string) string
	// random fails a share of requests with one of its failures.
	random *randomFaults
	poison map[string]string // key → message of a whole-batch 400
	delay  time.Duration
	bearer string
}

// FailNext makes the next n requests that pass the authentication and
// shape checks fail with f, after any failures already queued. The
// requests are still recorded.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults.next = append(s.faults.next, f)
	}
}

// FailKey makes every request containing key succeed with the record for
// key refused in the results ({"key": key, "ok": false, "error":
// message}): a partial success. An empty message removes the rule.
func (s *Server) FailKey(key, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.keys = setRule(s.faults.keys, key, message)
}

// FailKeysWhere makes every record whose key rule(key) gives a message
// come back refused in the results with that message (a partial success),
// like FailKey for a rule instead of a list. nil removes the rule.
func (s *Server) FailKeysWhere(rule func(key string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.keyRule = rule
}

// randomFaults fails a share of requests, deterministically from a seed.
type randomFaults struct {
	share    float64
	rng      *rand.Rand
	failures []Failure
	n        int
}

// FailRandomly makes a share (0..1) of the requests that pass the checks
// fail with one of failures, in turn, chosen by a generator seeded with
// seed (the same seed fails the same requests). share 0 stops it.
func (s *Server) FailRandomly(share float64, seed uint64, failures ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if share <= 0 || len(failures) == 0 {
		s.faults.random = nil
		return
	}
	s.faults.random = &randomFaults{share: share, rng: rand.New(rand.NewPCG(seed, seed)), failures: failures}
}

// Injected is the number of requests failed by FailRandomly and FailNext.
func (s *Server) Injected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.injected
}

// PoisonKey makes every request containing key fail as a whole with 400
// and message, as an API does when it validates a batch all or nothing.
// An empty message removes the rule.
func (s *Server) PoisonKey(key, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.poison = setRule(s.faults.poison, key, message)
}

func setRule(rules map[string]string, key, message string) map[string]string {
	rules = maps.Clone(rules) // the handler reads a snapshot without the lock
	if rules == nil {
		rules = map[string]string{}
	}
	if message == "" {
		delete(rules, key)
	} else {
		rules[key] = message
	}
	return rules
}

// SetDelay holds every request for d before answering (0 to stop), to
// exercise client timeouts. A client that gives up ends the wait.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.delay = d
}

// RequireBearer makes the emulator answer 401 to requests without
// "Authorization: Bearer <token>"; an empty token removes the requirement.
func (s *Server) RequireBearer(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.bearer = token
}

// ClearFaults removes every programmed fault, keeping what was recorded.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faults{}
}
