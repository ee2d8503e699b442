package salesforcetest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// job is a Bulk API 2.0 ingest job. Its states run Open → UploadComplete
// (the client closes it) → JobComplete or Failed at the next status poll,
// when the emulator processes the uploaded CSV.
type job struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Operation   string `json:"operation"`
	ExternalID  string `json:"externalIdFieldName,omitempty"`
	ContentType string `json:"contentType"`
	LineEnding  string `json:"lineEnding"`
	State       string `json:"state"`
	ErrorMsg    string `json:"errorMessage,omitempty"`
	Processed   int    `json:"numberRecordsProcessed"`
	Failed      int    `json:"numberRecordsFailed"`
	APIVersion  string `json:"apiVersion"`

	data   []byte     // the uploaded CSV
	failed [][]string // failedResults rows: sf__Id, sf__Error, original columns
	done   [][]string // successfulResults rows: sf__Id, sf__Created, original columns
	header []string
}

// FailNextJob makes the next ingest job processed end Failed with msg, as
// when Salesforce cannot read a job's data.
func (s *Server) FailNextJob(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobFault = msg
}

// Jobs lists the operations of the ingest jobs created, in order.
func (s *Server) Jobs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.jobOrder))
	for i, id := range s.jobOrder {
		out[i] = s.jobs[id].Operation
	}
	return out
}

// ingest serves /jobs/ingest and the resources of one job under it.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, rest string) {
	id, sub, _ := strings.Cut(strings.Trim(rest, "/"), "/")
	if id == "" {
		if r.Method != http.MethodPost {
			fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+r.Method+"' not allowed. Allowed are POST")
			return
		}
		s.createJob(w, r)
		return
	}
	j := s.jobs[id]
	if j == nil {
		fail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		if j.State == "UploadComplete" {
			s.process(j)
		}
		writeJSON(w, http.StatusOK, j)
	case sub == "" && r.Method == http.MethodPatch:
		var body struct {
			State string `json:"state"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil || (body.State != "UploadComplete" && body.State != "Aborted") {
			fail(w, http.StatusBadRequest, "INVALIDJOBSTATE", "state must be UploadComplete or Aborted")
			return
		}
		if j.State != "Open" {
			fail(w, http.StatusConflict, "INVALIDJOBSTATE", "Job is not open: "+j.State)
			return
		}
		j.State = body.State
		writeJSON(w, http.StatusOK, j)
	case sub == "batches" && r.Method == http.MethodPut:
		if j.State != "Open" || j.data != nil {
			fail(w, http.StatusConflict, "INVALIDJOBSTATE", "Data can be uploaded once, to an open job")
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			fail(w, http.StatusBadRequest, "INVALID_CONTENT_TYPE", "Content-Type must be text/csv")
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, MaxUpload+1))
		if err != nil || len(data) > MaxUpload {
			fail(w, http.StatusRequestEntityTooLarge, "INVALID_BATCH", "the upload exceeds 150 MB")
			return
		}
		j.data = data
		w.WriteHeader(http.StatusCreated)
	case (sub == "failedResults" || sub == "successfulResults" || sub == "unprocessedrecords") && r.Method == http.MethodGet:
		if j.State != "JobComplete" {
			fail(w, http.StatusBadRequest, "INVALIDJOBSTATE", "Job is not complete: "+j.State)
			return
		}
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		switch sub {
		case "failedResults":
			cw.Write(append([]string{"sf__Id", "sf__Error"}, j.header...))
			cw.WriteAll(j.failed)
		case "successfulResults":
			cw.Write(append([]string{"sf__Id", "sf__Created"}, j.header...))
			cw.WriteAll(j.done)
		default: // every row of a complete job was processed
			cw.Write(j.header)
			cw.Flush()
		}
		w.Header().Set("Content-Type", "text/csv")
		w.WriteHeader(http.StatusOK)
		w.Write(buf.Bytes())
	default:
		fail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist: "+r.Method+" jobs/ingest/"+rest)
	}
}

// MaxUpload is the documented limit of one job's CSV upload.
const MaxUpload = 150 << 20

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	var j job
	if err := json.NewDecoder(r.Body).Decode(&j); err != nil {
		fail(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "Cannot deserialize the request body: "+err.Error())
		return
	}
	switch {
	case j.Object == "":
		fail(w, http.StatusBadRequest, "INVALIDJOB", "object is required")
		return
	case j.Operation != "insert" && j.Operation != "upsert" && j.Operation != "delete":
		fail(w, http.StatusBadRequest, "INVALIDJOB", "unsupported operation: "+j.Operation)
		return
	case j.Operation == "upsert" && j.ExternalID == "":
		fail(w, http.StatusBadRequest, "INVALIDJOB", "externalIdFieldName is required for upsert")
		return
	case j.ContentType != "" && j.ContentType != "CSV", j.LineEnding != "" && j.LineEnding != "LF":
		fail(w, http.StatusBadRequest, "INVALIDJOB", "the emulator takes CSV with LF line endings")
		return
	}
	s.nextJob++
	j.ID = fmt.Sprintf("750R%011dAAA", s.nextJob)
	j.State, j.ContentType, j.LineEnding, j.APIVersion = "Open", "CSV", "LF", "62.0"
	if s.jobs == nil {
		s.jobs = map[string]*job{}
	}
	s.jobs[j.ID] = &j
	s.jobOrder = append(s.jobOrder, j.ID)
	writeJSON(w, http.StatusOK, &j)
}

// process applies a closed job's rows, as the collections do: an empty
// cell leaves a field unchanged, #N/A sets it to null.
func (s *Server) process(j *job) {
	if s.jobFault != "" {
		j.State, j.ErrorMsg, s.jobFault = "Failed", s.jobFault, ""
		return
	}
	cr := csv.NewReader(bytes.NewReader(j.data))
	rows, err := cr.ReadAll()
	if err != nil || len(rows) == 0 {
		j.State, j.ErrorMsg = "Failed", "InvalidBatch : Failed to parse CSV"
		return
	}
	j.header, rows = rows[0], rows[1:]
	s.spendBulk(len(rows))
	for _, h := range j.header {
		// Salesforce fails the whole job on a column the sObject lacks.
		if _, ok := s.field(j.Object, h); !ok {
			j.State, j.ErrorMsg = "Failed", "InvalidBatch : Field name not found : "+h
			return
		}
	}
	for _, row := range rows {
		fields := map[string]any{}
		for c, h := range j.header {
			switch row[c] {
			case "":
			case "#N/A":
				fields[h] = nil
			default:
				fields[h] = row[c]
			}
		}
		id, e := s.apply(j, fields)
		j.Processed++
		if e == nil {
			j.done = append(j.done, append([]string{id, "true"}, row...))
		} else {
			j.Failed++
			msg := e.StatusCode + ":" + e.Message + ":" + strings.Join(e.Fields, ",") + " --"
			j.failed = append(j.failed, append([]string{id, msg}, row...))
		}
	}
	j.State = "JobComplete"
}

func (s *Server) apply(j *job, fields map[string]any) (string, *apiError) {
	if j.Operation == "delete" {
		id, _ := fields["Id"].(string)
		if s.records[id] == nil {
			return id, &apiError{StatusCode: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}}
		}
		delete(s.records, id)
		return id, nil
	}
	ext := ""
	if j.Operation == "upsert" {
		ext = j.ExternalID
	}
	if e := s.validate(j.Object, ext, j.Object, fields); e != nil {
		return "", e
	}
	var matches []*Record
	if ext != "" {
		matches = s.byField(j.Object, ext, fields[ext])
	}
	if len(matches) < 2 {
		if e := s.checkFields(j.Object, fields, len(matches) == 0); e != nil {
			return "", e
		}
	}
	switch len(matches) {
	case 0:
		return s.create(j.Object, fields).ID, nil
	case 1:
		for k, v := range fields {
			matches[0].Fields[k] = v
		}
		return matches[0].ID, nil
	default:
		return "", &apiError{StatusCode: "DUPLICATE_EXTERNAL_ID", Message: fmt.Sprintf("%s: more than one record found for external id field: %v", ext, fields[ext]), Fields: []string{ext}}
	}
}
