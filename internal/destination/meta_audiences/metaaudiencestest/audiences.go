package metaaudiencestest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// audienceFields are the Custom Audience fields the emulator answers.
var audienceFields = map[string]bool{"id": true, "name": true, "subtype": true}

func cursor(i int) string {
	return base64.StdEncoding.EncodeToString([]byte("audience:" + strconv.Itoa(i)))
}

// listAudiences is GET /{version}/act_{id}/customaudiences.
func (s *Server) listAudiences(w http.ResponseWriter, r *http.Request, account string, p map[string]string) {
	if account != s.account {
		graphError(w, 400, "GraphMethodException", 100, 33, fmt.Sprintf("Unsupported get request. Object with ID 'act_%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", account))
		return
	}
	fields := []string{"id"}
	if f := p["fields"]; f != "" {
		fields = strings.Split(f, ",")
	}
	for _, f := range fields {
		if !audienceFields[f] {
			graphError(w, 400, "OAuthException", 100, 0, fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (CustomAudience)", f))
			return
		}
	}
	limit := 25
	if l := p["limit"]; l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			graphError(w, 400, "OAuthException", 100, 0, "(#100) Param limit must be a positive integer")
			return
		}
		limit = n
	}
	start := 0
	if a := p["after"]; a != "" {
		raw, err := base64.StdEncoding.DecodeString(a)
		n, ok := strings.CutPrefix(string(raw), "audience:")
		i, convErr := strconv.Atoi(n)
		if err != nil || !ok || convErr != nil || i < 0 {
			graphError(w, 400, "OAuthException", 100, 0, "(#100) Invalid after cursor")
			return
		}
		start = i + 1
	}
	data := []map[string]string{}
	end := min(start+limit, len(s.audiences))
	for i := start; i < end; i++ {
		a := s.audiences[i]
		row := map[string]string{}
		for _, f := range fields {
			switch f {
			case "id":
				row["id"] = a.ID
			case "name":
				row["name"] = a.Name
			case "subtype":
				row["subtype"] = a.Subtype
			}
		}
		row["id"] = a.ID // Graph always returns the node's id
		data = append(data, row)
	}
	out := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end - 1)}}
		if end < len(s.audiences) {
			// Meta's next URL repeats the request's parameters and the
			// access token.
			q := url.Values{"access_token": {s.token}, "fields": {strings.Join(fields, ",")}, "limit": {strconv.Itoa(limit)}, "after": {cursor(end - 1)}}
			paging["next"] = s.URL() + r.URL.Path + "?" + q.Encode()
		}
		out["paging"] = paging
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(out)
}
