package braze

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	d := &api{now: func() time.Time { return now }}
	reset := fmt.Sprint(now.Add(5 * time.Second).Unix())
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"X-RateLimit-Retry-After first", map[string]string{"X-RateLimit-Retry-After": "7", "Retry-After": "9", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, 7 * time.Second},
		{"Retry-After", map[string]string{"Retry-After": "9"}, 9 * time.Second},
		{"until the reset when spent", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, 5 * time.Second},
		{"reset ignored while requests remain", map[string]string{"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": reset}, 0},
		{"reset in the past", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(now.Add(-time.Second).Unix())}, 0},
		{"nothing said", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			if got := d.retryAfter(h); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchErrors(t *testing.T) {
	at := func(i int) *int { return &i }
	idx := []int{3, 5, 8} // batch indexes of the attributes objects
	tests := []struct {
		name string
		errs []minorError
		want map[int]string
	}{
		{"none", nil, map[int]string{}},
		{"by index", []minorError{{Type: "'dob' is bad", InputArray: "attributes", Index: at(1)}}, map[int]string{5: "'dob' is bad"}},
		{
			"an error naming no object fails the rest",
			[]minorError{{Type: "x", InputArray: "attributes", Index: at(0)}, {Type: "something else"}},
			map[int]string{3: "x", 5: "braze reported errors it did not tie to an attributes object: something else", 8: "braze reported errors it did not tie to an attributes object: something else"},
		},
		{"an index out of range counts as unnamed", []minorError{{Type: "y", InputArray: "attributes", Index: at(9)}}, map[int]string{3: "braze reported errors it did not tie to an attributes object: y (attributes)", 5: "braze reported errors it did not tie to an attributes object: y (attributes)", 8: "braze reported errors it did not tie to an attributes object: y (attributes)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matchErrors(&response{Message: "success", Errors: tt.errs}, idx)
			if got == nil {
				got = map[int]string{}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("matchErrors = %v, want %v", got, tt.want)
			}
		})
	}
}
