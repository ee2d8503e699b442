package googleadstest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	selectRE = regexp.MustCompile(`(?is)^\s*SELECT\s+(.+?)\s+FROM\s+([a-z_]+)(?:\s+WHERE\s+(.+?))?\s*$`)
	whereRE  = regexp.MustCompile(`(?i)^user_list\.type\s*=\s*'([A-Z_]+)'$`)
	// userListFields are the user_list fields the emulator answers, GAQL
	// name → REST JSON name.
	userListFields = map[string]string{"user_list.resource_name": "resourceName", "user_list.id": "id", "user_list.name": "name", "user_list.type": "type"}
	userListTypes  = []string{"CRM_BASED", "RULE_BASED", "LOGICAL", "SIMILAR", "EXTERNAL_REMARKETING", "LOOKALIKE"}
)

func queryError(w http.ResponseWriter, version, code, msg string) {
	rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"queryError": code}, Message: msg})
}

// search is GoogleAdsService.Search for user_list queries.
func (s *Server) search(w http.ResponseWriter, version, customer string, body []byte) {
	var in struct {
		Query     string `json:"query"`
		PageToken string `json:"pageToken"`
		PageSize  *int   `json:"pageSize"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Invalid JSON payload received. "+err.Error())
		return
	}
	if in.PageSize != nil {
		rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"requestError": "PAGE_SIZE_NOT_SUPPORTED"}, Message: "Setting the page size is not supported. Search Responses will have fixed page size of '10000' rows."})
		return
	}
	if customer != CustomerID {
		rpcError(w, 403, "PERMISSION_DENIED", version, "The caller does not have permission", fieldError{ErrorCode: map[string]string{"authorizationError": "USER_PERMISSION_DENIED"}, Message: "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header."})
		return
	}
	m := selectRE.FindStringSubmatch(in.Query)
	switch {
	case strings.TrimSpace(in.Query) == "":
		queryError(w, version, "EXPECTED_SELECT", "Expected SELECT, got end of query.")
		return
	case m == nil:
		queryError(w, version, "QUERY_ERROR", "The emulator answers SELECT <user_list fields> FROM user_list [WHERE user_list.type = '<type>'] only.")
		return
	case m[2] != "user_list":
		queryError(w, version, "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", "Invalid resource type was specified in the FROM clause: '"+m[2]+"'. The emulator serves user_list only.")
		return
	}
	var selected []string
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if _, ok := userListFields[f]; !ok {
			queryError(w, version, "UNRECOGNIZED_FIELD", "Unrecognized field in the query: '"+f+"'.")
			return
		}
		selected = append(selected, f)
	}
	want := ""
	if m[3] != "" {
		c := whereRE.FindStringSubmatch(strings.TrimSpace(m[3]))
		if c == nil {
			queryError(w, version, "QUERY_ERROR", "The emulator filters by user_list.type = '<type>' only, not: "+m[3])
			return
		}
		if !slices.Contains(userListTypes, c[1]) {
			queryError(w, version, "BAD_ENUM_CONSTANT", "Invalid enum constant '"+c[1]+"' for user_list.type.")
			return
		}
		want = c[1]
	}
	offset := 0
	if in.PageToken != "" {
		raw, err := base64.StdEncoding.DecodeString(in.PageToken)
		n, ok := strings.CutPrefix(string(raw), "offset:")
		o, convErr := strconv.Atoi(n)
		if err != nil || !ok || convErr != nil || o < 0 {
			rpcError(w, 400, "INVALID_ARGUMENT", version, "Request contains an invalid argument.", fieldError{ErrorCode: map[string]string{"requestError": "INVALID_PAGE_TOKEN"}, Message: "Page token is invalid."})
			return
		}
		offset = o
	}
	s.mu.Lock()
	var match []UserList
	for _, l := range s.infos {
		if want == "" || l.Type == want {
			match = append(match, l)
		}
	}
	s.mu.Unlock()
	results := []map[string]any{}
	var mask []string
	for _, f := range selected {
		mask = append(mask, "userList."+userListFields[f])
	}
	for i := offset; i < len(match) && i < offset+s.pageSize; i++ {
		l := match[i]
		row := map[string]any{}
		for _, f := range selected {
			switch f {
			case "user_list.resource_name":
				row["resourceName"] = l.ResourceName
			case "user_list.id":
				row["id"] = l.ResourceName[strings.LastIndex(l.ResourceName, "/")+1:]
			case "user_list.name":
				row["name"] = l.Name
			case "user_list.type":
				row["type"] = l.Type
			}
		}
		results = append(results, map[string]any{"userList": row})
	}
	// Proto3 JSON leaves an empty repeated field out.
	out := map[string]any{"fieldMask": strings.Join(mask, ","), "queryResourceConsumption": "1"}
	if len(results) > 0 {
		out["results"] = results
	}
	if offset+s.pageSize < len(match) {
		out["nextPageToken"] = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset+s.pageSize)))
	}
	writeJSON(w, 200, out)
}
