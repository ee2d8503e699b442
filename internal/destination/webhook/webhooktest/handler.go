package webhooktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// wireBatch is the body Riptide's webhook destination sends.
type wireBatch struct {
	Sync    string       `json:"sync"`
	RunID   string       `json:"run_id"`
	Batch   int          `json:"batch"`
	Records []wireRecord `json:"records"`
}

type wireRecord struct {
	Op   string         `json:"op"`
	Key  string         `json:"key"`
	Data map[string]any `json:"data"`
}

// result is one entry of the response's results.
type result struct {
	Key   string `json:"key"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// answer is what the handler decided to respond.
type answer struct {
	status     int
	body       []byte
	retryAfter string
	accepted   []Record
}

func errorAnswer(status int, msg string) answer {
	body, _ := json.Marshal(map[string]string{"error": msg})
	return answer{status: status, body: body}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeAnswer(w, errorAnswer(http.StatusMethodNotAllowed, "use POST"))
		return
	}
	req := Request{
		Method:         r.Method,
		Path:           r.URL.Path,
		Header:         r.Header.Clone(),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		a := errorAnswer(http.StatusBadRequest, "read body: "+err.Error())
		if errors.As(err, &tooLarge) {
			a = errorAnswer(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", s.maxBody))
		}
		s.finish(&req, a)
		writeAnswer(w, a)
		return
	}
	req.Body = body

	s.mu.Lock()
	delay := s.faults.delay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.finish(&req, answer{}) // the client gave up: no answer
			return
		}
	}

	a := s.judge(r, &req, body)
	s.finish(&req, a)
	writeAnswer(w, a)
}

// judge decides the answer to a request whose body has been read, and
// fills in the decoded envelope and records.
func (s *Server) judge(r *http.Request, req *Request, body []byte) answer {
	// Decode first so that refused requests are recorded with their
	// records too, but answer as a real receiver would: credentials
	// before content.
	b, decodeErr := decode(body)
	if decodeErr == nil {
		req.Sync, req.RunID, req.Batch = b.Sync, b.RunID, b.Batch
		req.Records = make([]Record, len(b.Records))
		for i, w := range b.Records {
			req.Records[i] = Record{Op: w.Op, Key: w.Key, Data: w.Data}
		}
	}

	s.mu.Lock()
	f := s.faults // rule maps are replaced, never changed, so a copy is a snapshot
	s.mu.Unlock()

	if f.bearer != "" && r.Header.Get("Authorization") != "Bearer "+f.bearer {
		return errorAnswer(http.StatusUnauthorized, "invalid bearer token")
	}
	if s.secret != nil && !validSignature(s.secret, body, r.Header.Get("X-Riptide-Signature")) {
		return errorAnswer(http.StatusUnauthorized, "invalid signature")
	}
	if decodeErr != nil {
		return errorAnswer(http.StatusBadRequest, decodeErr.Error())
	}
	if msg := validate(&b); msg != "" {
		return errorAnswer(http.StatusBadRequest, msg)
	}
	if fail := s.takeFailure(); fail != nil {
		a := errorAnswer(fail.Status, strings.ToLower(http.StatusText(fail.Status)))
		if fail.Body != "" {
			a.body = []byte(fail.Body)
		}
		a.retryAfter = fail.RetryAfter
		return a
	}
	for _, rec := range req.Records {
		if msg, ok := f.poison[rec.Key]; ok {
			return errorAnswer(http.StatusBadRequest, fmt.Sprintf("record %s: %s", rec.Key, msg))
		}
	}

	if len(f.keys) == 0 && f.keyRule == nil {
		return answer{status: http.StatusOK, body: fmt.Appendf(nil, `{"accepted":%d}`, len(req.Records)), accepted: req.Records}
	}
	results := make([]result, len(req.Records))
	accepted := make([]Record, 0, len(req.Records))
	for i, rec := range req.Records {
		results[i] = result{Key: rec.Key, OK: true}
		if msg, ok := f.keys[rec.Key]; ok {
			results[i] = result{Key: rec.Key, Error: msg}
			continue
		}
		if f.keyRule != nil {
			if msg := f.keyRule(rec.Key); msg != "" {
				results[i] = result{Key: rec.Key, Error: msg}
				continue
			}
		}
		accepted = append(accepted, rec)
	}
	out, _ := json.Marshal(map[string][]result{"results": results})
	return answer{status: http.StatusOK, body: out, accepted: accepted}
}

// takeFailure pops the next queued failure, if any.
func (s *Server) takeFailure() *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults.next) == 0 {
		if r := s.faults.random; r != nil && r.rng.Float64() < r.share {
			f := r.failures[r.n%len(r.failures)]
			r.n++
			s.injected++
			return &f
		}
		return nil
	}
	f := s.faults.next[0]
	s.faults.next = s.faults.next[1:]
	s.injected++
	return &f
}

func decode(body []byte) (wireBatch, error) {
	var b wireBatch
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return b, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return b, errors.New("invalid JSON: data after the batch")
	}
	return b, nil
}

// validate checks what the protocol requires of a batch and returns what
// is wrong, or "".
func validate(b *wireBatch) string {
	if b.Records == nil {
		return `missing "records"`
	}
	for i, r := range b.Records {
		switch r.Op {
		case "insert", "update", "upsert":
			if r.Data == nil {
				return fmt.Sprintf(`record %d (key %q): op %s without "data"`, i, r.Key, r.Op)
			}
		case "delete":
		default:
			return fmt.Sprintf("record %d (key %q): unknown op %q", i, r.Key, r.Op)
		}
	}
	return ""
}

func validSignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// finish records a request with its answer and applies the accepted
// records to the emulated state.
func (s *Server) finish(req *Request, a answer) {
	req.Status = a.status
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received++
	s.count += len(a.accepted)
	if s.discard {
		return
	}
	s.requests = append(s.requests, *req)
	s.records = append(s.records, a.accepted...)
	for _, rec := range a.accepted {
		if rec.Op == "delete" {
			delete(s.latest, rec.Key)
		} else {
			s.latest[rec.Key] = rec
		}
	}
}

func writeAnswer(w http.ResponseWriter, a answer) {
	w.Header().Set("Content-Type", "application/json")
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}
