package salesforcetest

import (
	"fmt"
	"net/http"
)

// Daily allocations of a new emulator's org: Salesforce's Enterprise
// Edition base of API requests per rolling 24 hours, and the Bulk API
// batches per rolling 24 hours shared by Bulk API and Bulk API 2.0.
const (
	DefaultDailyAPIRequests = 100_000
	DefaultDailyBulkBatches = 15_000
)

// recordsPerBulkBatch: an ingest job's data counts one batch per 10,000
// records.
const recordsPerBulkBatch = 10_000

// WithDailyLimits sets the org's daily allocations of API requests and
// Bulk API batches.
func WithDailyLimits(apiRequests, bulkBatches int) Option {
	return func(s *Server) { s.apiMax, s.bulkMax = apiRequests, bulkBatches }
}

// UseDaily counts API requests and Bulk API batches against the day's
// allocations, as other integrations of the org would.
func (s *Server) UseDaily(apiRequests, bulkBatches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiUsed += apiRequests
	s.bulkUsed += bulkBatches
}

// DailyUsage is the API requests and Bulk API batches counted so far.
func (s *Server) DailyUsage() (apiRequests, bulkBatches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiUsed, s.bulkUsed
}

// spend counts one data request against the daily API requests, or
// refuses it with 403 REQUEST_LIMIT_EXCEEDED when the allocation is
// spent. Every answer carries the Sforce-Limit-Info header.
func (s *Server) spend(w http.ResponseWriter) bool {
	if s.apiUsed >= s.apiMax {
		s.limitInfo(w)
		fail(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return false
	}
	s.apiUsed++
	s.limitInfo(w)
	return true
}

func (s *Server) limitInfo(w http.ResponseWriter) {
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.apiUsed, s.apiMax))
}

// spendBulk counts an ingest job's records against the daily batches.
func (s *Server) spendBulk(records int) {
	s.bulkUsed += (records + recordsPerBulkBatch - 1) / recordsPerBulkBatch
}

// limits serves GET /limits: each allocation's Max and Remaining.
func (s *Server) limits(w http.ResponseWriter) {
	type limit struct {
		Max       int `json:"Max"`
		Remaining int `json:"Remaining"`
	}
	writeJSON(w, http.StatusOK, map[string]limit{
		"DailyApiRequests":     {s.apiMax, max(0, s.apiMax-s.apiUsed)},
		"DailyBulkApiBatches":  {s.bulkMax, max(0, s.bulkMax-s.bulkUsed)},
		"DailyBulkV2QueryJobs": {10_000, 10_000},
	})
}
