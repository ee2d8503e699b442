package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// input is one element of a batch request's inputs.
type input struct {
	ID         string            `json:"id"`
	IDProperty string            `json:"idProperty"`
	Properties map[string]string `json:"properties"`
}

type batchRequest struct {
	Inputs     []input  `json:"inputs"`
	IDProperty string   `json:"idProperty"` // batch/read
	Properties []string `json:"properties"` // batch/read
}

// apiError is HubSpot's error body, also the element of a 207's errors.
type apiError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId,omitempty"`
	Category      string              `json:"category,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Errors        []detail            `json:"errors,omitempty"`
	PolicyName    string              `json:"policyName,omitempty"`
	ErrorType     string              `json:"errorType,omitempty"`
	GroupName     string              `json:"groupName,omitempty"`
}

type detail struct {
	Message string              `json:"message"`
	Code    string              `json:"code,omitempty"`
	Context map[string][]string `json:"context,omitempty"`
}

type result struct {
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
	CreatedAt  string            `json:"createdAt"`
	UpdatedAt  string            `json:"updatedAt"`
	Archived   bool              `json:"archived"`
	New        *bool             `json:"new,omitempty"` // upsert only
}

type batchResponse struct {
	Status      string     `json:"status"`
	Results     []result   `json:"results"`
	NumErrors   int        `json:"numErrors,omitempty"`
	Errors      []apiError `json:"errors,omitempty"`
	RequestedAt string     `json:"requestedAt,omitempty"`
	StartedAt   string     `json:"startedAt"`
	CompletedAt string     `json:"completedAt"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/oauth/v1/token" && r.Method == http.MethodPost {
		s.issueToken(w, r)
		return
	}
	s.requests++

	if !s.authenticate(w, r) {
		return
	}
	if !s.allow(w) {
		return
	}
	if len(s.faults) > 0 {
		status := s.faults[0]
		s.faults = s.faults[1:]
		if status == http.StatusTooManyRequests {
			s.tooMany(w, "TEN_SECONDLY_ROLLING", "ten_secondly_rolling")
			return
		}
		s.writeError(w, status, apiError{Message: "internal error", Category: "INTERNAL_ERROR"})
		return
	}

	if (r.URL.Path == "/crm-object-schemas/v3/schemas" || r.URL.Path == "/crm/v3/schemas") && r.Method == http.MethodGet {
		s.schemas(w)
		return
	}
	if object, ok := strings.CutPrefix(r.URL.Path, "/crm/v3/properties/"); ok && r.Method == http.MethodGet {
		s.properties(w, s.canonical(object))
		return
	}
	object, action, ok := route(r.URL.Path)
	object = s.canonical(object)
	if !ok || r.Method != http.MethodPost {
		s.writeError(w, http.StatusNotFound, apiError{Message: fmt.Sprintf("Unable to infer object type from: %s", r.URL.Path), Category: "OBJECT_NOT_FOUND"})
		return
	}
	if _, known := s.schema[object]; !known {
		s.writeError(w, http.StatusBadRequest, apiError{Message: "Unable to infer object type from: " + object, Category: "VALIDATION_ERROR"})
		return
	}
	var req batchRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&req); err != nil {
		s.writeError(w, http.StatusBadRequest, apiError{Message: "Invalid input JSON on line 1: " + err.Error(), Category: "VALIDATION_ERROR"})
		return
	}
	if len(req.Inputs) > MaxInputs {
		s.writeError(w, http.StatusBadRequest, apiError{
			Message:  fmt.Sprintf("Batch input limit exceeded: %d inputs given, at most %d allowed", len(req.Inputs), MaxInputs),
			Category: "VALIDATION_ERROR",
		})
		return
	}
	if action != "archive" && action != "read" {
		if e, bad := s.checkProperties(object, req.Inputs, action); bad {
			s.writeError(w, http.StatusBadRequest, e)
			return
		}
	}
	switch action {
	case "upsert", "update", "create":
		s.write(w, object, action, req.Inputs)
	case "read":
		s.read(w, object, req)
	case "archive":
		for _, in := range req.Inputs {
			if rec := s.records[object][in.ID]; rec != nil {
				rec.Archived = true
			}
		}
		w.WriteHeader(http.StatusNoContent) // whatever the records' state, as HubSpot does
	}
}

// route splits /crm/v3/objects/{objectType}/batch/{action}.
func route(path string) (object, action string, ok bool) {
	rest, found := strings.CutPrefix(path, "/crm/v3/objects/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1] != "batch" {
		return "", "", false
	}
	switch parts[2] {
	case "upsert", "update", "create", "archive", "read":
		return parts[0], parts[2], true
	}
	return "", "", false
}

// checkProperties refuses the whole request, as HubSpot does, when an input
// names a property the object lacks or an idProperty that is not unique.
func (s *Server) checkProperties(object string, inputs []input, action string) (apiError, bool) {
	var details []detail
	for _, in := range inputs {
		if in.IDProperty != "" {
			if p, ok := s.property(object, in.IDProperty); !ok || !p.Unique {
				return apiError{Message: fmt.Sprintf("Property %q is not a unique identifier property", in.IDProperty), Category: "VALIDATION_ERROR"}, true
			}
		} else if action == "upsert" {
			return apiError{Message: "idProperty is required for upsert", Category: "VALIDATION_ERROR"}, true
		}
		for name := range in.Properties {
			if _, ok := s.property(object, name); !ok {
				details = append(details, detail{
					Message: fmt.Sprintf("Property \"%s\" does not exist", name),
					Code:    "PROPERTY_DOESNT_EXIST",
					Context: map[string][]string{"propertyName": {name}},
				})
			}
		}
	}
	if len(details) > 0 {
		return apiError{Message: "Property values were not valid", Category: "VALIDATION_ERROR", Errors: details}, true
	}
	return apiError{}, false
}

// write applies upserts, updates or creates, answering 207 with the inputs
// it refused (an invalid email, a record to update that does not exist, a
// unique value already taken).
func (s *Server) write(w http.ResponseWriter, object, action string, inputs []input) {
	started := s.now().UTC()
	resp := batchResponse{Status: "COMPLETE", Results: []result{}}
	for _, in := range inputs {
		if e, bad := s.validate(object, in); bad {
			resp.Errors = append(resp.Errors, e)
			continue
		}
		var rec *Record
		created := false
		switch action {
		case "upsert":
			rec = s.find(object, in.IDProperty, in.ID)
			if rec == nil {
				props := cloneWith(in.Properties, in.IDProperty, in.ID)
				rec, created = s.create(object, props), true
			}
		case "update":
			rec = s.find(object, in.IDProperty, in.ID)
			if rec == nil {
				resp.Errors = append(resp.Errors, s.inputError("OBJECT_NOT_FOUND",
					fmt.Sprintf("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.", strings.ToUpper(strings.TrimSuffix(object, "s"))), in.ID))
				continue
			}
		case "create":
			if taken, value := s.takenUnique(object, in.Properties); taken != "" {
				resp.Errors = append(resp.Errors, s.inputError("CONFLICT", fmt.Sprintf("A %s with %s %q already exists", object, taken, value), value))
				continue
			}
			rec, created = s.create(object, in.Properties), true
		}
		if !created {
			for k, v := range in.Properties {
				rec.Properties[k] = v
				s.indexValue(object, k, v, rec)
			}
			rec.UpdatedAt = s.now().UTC()
		}
		res := result{ID: rec.ID, Properties: rec.Properties, CreatedAt: stamp(rec.CreatedAt), UpdatedAt: stamp(rec.UpdatedAt)}
		if action == "upsert" {
			res.New = &created
		}
		resp.Results = append(resp.Results, res)
	}
	resp.StartedAt, resp.CompletedAt = stamp(started), stamp(s.now())
	status := http.StatusOK
	if action == "create" {
		status = http.StatusCreated
	}
	if len(resp.Errors) > 0 {
		status = http.StatusMultiStatus
		resp.NumErrors = len(resp.Errors)
	}
	writeJSON(w, status, resp)
}

func (s *Server) read(w http.ResponseWriter, object string, req batchRequest) {
	started := s.now().UTC()
	resp := batchResponse{Status: "COMPLETE", Results: []result{}}
	var missing []string
	for _, in := range req.Inputs {
		rec := s.find(object, req.IDProperty, in.ID)
		if rec == nil {
			missing = append(missing, in.ID)
			continue
		}
		props := map[string]string{"hs_object_id": rec.ID}
		for _, p := range append(req.Properties, req.IDProperty) {
			if v, ok := rec.Properties[p]; ok {
				props[p] = v
			}
		}
		resp.Results = append(resp.Results, result{ID: rec.ID, Properties: props, CreatedAt: stamp(rec.CreatedAt), UpdatedAt: stamp(rec.UpdatedAt)})
	}
	status := http.StatusOK
	if len(missing) > 0 {
		e := s.inputError("OBJECT_NOT_FOUND", "Could not get some objects, they may be deleted or not exist.", missing...)
		resp.Errors, resp.NumErrors, status = []apiError{e}, 1, http.StatusMultiStatus
	}
	resp.StartedAt, resp.CompletedAt = stamp(started), stamp(s.now())
	writeJSON(w, status, resp)
}

// validate checks an input's values: emails must be addresses.
func (s *Server) validate(object string, in input) (apiError, bool) {
	email, ok := in.Properties["email"]
	if in.IDProperty == "email" {
		email, ok = in.ID, true
	}
	if object != "contacts" || !ok || email == "" {
		return apiError{}, false
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		e := s.inputError("VALIDATION_ERROR", "Property values were not valid: Email address "+email+" is invalid", in.ID)
		if in.ID == "" {
			e.Context = map[string][]string{"email": {email}}
		}
		e.Errors = []detail{{Message: "Email address " + email + " is invalid", Code: "INVALID_EMAIL", Context: map[string][]string{"propertyName": {"email"}}}}
		return e, true
	}
	return apiError{}, false
}

func (s *Server) takenUnique(object string, props map[string]string) (string, string) {
	for _, p := range s.schema[object] {
		if v := props[p.Name]; p.Unique && v != "" && s.find(object, p.Name, v) != nil {
			return p.Name, v
		}
	}
	return "", ""
}

func (s *Server) inputError(category, message string, ids ...string) apiError {
	return apiError{Status: "error", Category: category, Message: message, Context: map[string][]string{"ids": ids}}
}

// allow counts the request against the rate limits, sets HubSpot's
// headers, and answers 429 when a limit is reached.
func (s *Server) allow(w http.ResponseWriter) bool {
	l := s.limits
	now := s.now()
	h := w.Header()
	if l.PerInterval > 0 {
		cut := 0
		for cut < len(s.starts) && !s.starts[cut].Add(l.Interval).After(now) {
			cut++
		}
		s.starts = s.starts[cut:]
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(l.Interval.Milliseconds(), 10))
		h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(l.PerInterval))
		if len(s.starts) >= l.PerInterval {
			h.Set("X-HubSpot-RateLimit-Remaining", "0")
			s.throttled++
			s.tooMany(w, "TEN_SECONDLY_ROLLING", "ten_secondly_rolling")
			return false
		}
		s.starts = append(s.starts, now)
		h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(l.PerInterval-len(s.starts)))
	}
	if l.Daily > 0 {
		h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(l.Daily))
		if s.day >= l.Daily {
			h.Set("X-HubSpot-RateLimit-Daily-Remaining", "0")
			s.throttled++
			s.tooMany(w, "DAILY", "daily")
			return false
		}
		s.day++
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(l.Daily-s.day))
	}
	return true
}

func (s *Server) tooMany(w http.ResponseWriter, policy, name string) {
	if w.Header().Get("X-HubSpot-RateLimit-Interval-Milliseconds") == "" {
		w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	}
	s.writeError(w, http.StatusTooManyRequests, apiError{
		Message:    "You have reached your " + name + " limit.",
		ErrorType:  "RATE_LIMIT",
		PolicyName: policy,
		GroupName:  "publicapi:private-app",
	})
}

func (s *Server) writeError(w http.ResponseWriter, status int, e apiError) {
	s.ids++
	e.Status = "error"
	e.CorrelationID = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.ids)
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func cloneWith(props map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(props)+1)
	for pk, pv := range props {
		out[pk] = pv
	}
	if k != "" && k != "hs_object_id" {
		out[k] = v
	}
	return out
}

// properties answers GET /crm/v3/properties/{objectType}: the object's
// properties in the properties API's shape.
func (s *Server) properties(w http.ResponseWriter, object string) {
	props, known := s.schema[object]
	if !known {
		s.writeError(w, http.StatusBadRequest, apiError{Message: "Unable to infer object type from: " + object, Category: "VALIDATION_ERROR"})
		return
	}
	type modification struct {
		Archivable         bool `json:"archivable"`
		ReadOnlyDefinition bool `json:"readOnlyDefinition"`
		ReadOnlyValue      bool `json:"readOnlyValue"`
	}
	type property struct {
		Name                 string       `json:"name"`
		Label                string       `json:"label"`
		Type                 string       `json:"type"`
		FieldType            string       `json:"fieldType"`
		GroupName            string       `json:"groupName"`
		HasUniqueValue       bool         `json:"hasUniqueValue"`
		Hidden               bool         `json:"hidden"`
		ModificationMetadata modification `json:"modificationMetadata"`
	}
	out := struct {
		Results []property `json:"results"`
	}{Results: []property{}}
	for _, p := range props {
		typ, field := p.Type, "text"
		if typ == "" {
			typ = "string"
		}
		if typ == "number" {
			field = "number"
		}
		out.Results = append(out.Results, property{
			Name: p.Name, Label: p.Name, Type: typ, FieldType: field, GroupName: object + "information",
			HasUniqueValue: p.Unique, ModificationMetadata: modification{Archivable: !p.ReadOnly, ReadOnlyDefinition: p.ReadOnly, ReadOnlyValue: p.ReadOnly},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
