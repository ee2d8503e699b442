package googleadstest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// These tests drive the emulator with raw HTTP shaped as the Google Ads
// API REST reference's examples: Google's official client libraries speak
// gRPC, so no official client can be pointed at a REST emulator.

const digest = "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3"

type client struct {
	t     *testing.T
	s     *Server
	token string
}

func newClient(t *testing.T, opts ...Option) *client {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	resp, err := http.PostForm(s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "client_id": {ClientID}, "client_secret": {ClientSecret}, "refresh_token": {RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.TokenType != "Bearer" {
		t.Fatalf("token exchange: %d %v %+v", resp.StatusCode, err, tok)
	}
	return &client{t: t, s: s, token: tok.AccessToken}
}

func (c *client) post(path, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.s.URL()+"/v26/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("developer-token", DeveloperToken)
	req.Header.Set("login-customer-id", "9876543210")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		c.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
	return resp.StatusCode, out
}

func (c *client) createJob() string {
	c.t.Helper()
	st, out := c.post("customers/"+CustomerID+"/offlineUserDataJobs:create",
		`{"job":{"type":"CUSTOMER_MATCH_USER_LIST","customerMatchUserListMetadata":{"userList":"`+c.s.UserList()+`"}}}`)
	name, _ := out["resourceName"].(string)
	if st != 200 || !strings.HasPrefix(name, "customers/"+CustomerID+"/offlineUserDataJobs/") {
		c.t.Fatalf("create: %d %v", st, out)
	}
	return name
}

func TestJobLifecycle(t *testing.T) {
	c := newClient(t)
	job := c.createJob()
	st, out := c.post(job+":addOperations", `{"enablePartialFailure":true,"operations":[
		{"create":{"userIdentifiers":[{"hashedEmail":"`+digest+`"},{"hashedPhoneNumber":"`+digest+`"}]}},
		{"create":{"userIdentifiers":[{"hashedEmail":"NOT-HEX"}]}},
		{"create":{"userIdentifiers":[{"addressInfo":{"hashedFirstName":"`+digest+`","hashedLastName":"`+digest+`","countryCode":"US","postalCode":"94045"}}]}}]}`)
	pf, _ := out["partialFailureError"].(map[string]any)
	if st != 200 || pf == nil {
		t.Fatalf("addOperations: %d %v, want a partial failure", st, out)
	}
	raw, _ := json.Marshal(pf["details"])
	if !strings.Contains(string(raw), `"fieldName":"operations","index":1`) || !strings.Contains(string(raw), "INVALID_SHA256_FORMAT") {
		t.Errorf("partial failure does not name operation 1: %s", raw)
	}
	if len(c.s.Members(c.s.UserList())) != 0 {
		t.Fatal("members added before the job ran")
	}
	if st, out := c.post(job+":run", `{}`); st != 200 || !strings.HasPrefix(out["name"].(string), "customers/"+CustomerID+"/operations/") {
		t.Fatalf("run: %d %v", st, out)
	}
	if n := len(c.s.Members(c.s.UserList())); n != 2 {
		t.Fatalf("%d members after the run, want 2", n)
	}
	remove := c.createJob()
	c.post(remove+":addOperations", `{"operations":[{"remove":{"userIdentifiers":[{"hashedEmail":"`+digest+`"}]}}]}`)
	c.post(remove+":run", `{}`)
	if n := len(c.s.Members(c.s.UserList())); n != 1 {
		t.Errorf("%d members after removing one, want 1", n)
	}
	if st, _ := c.post(remove+":run", `{}`); st != 400 {
		t.Errorf("a job ran twice: %d", st)
	}
}

func TestRefusals(t *testing.T) {
	many := `{"create":{"userIdentifiers":[` + strings.Repeat(`{"hashedEmail":"`+digest+`"},`, MaxPerOperation-1) + `{"hashedEmail":"` + digest + `"}]}}`
	tests := []struct {
		name   string
		setup  func(c *client)
		body   string
		status int
		rpc    string
	}{
		{"invalid hash without partial failure", nil, `{"operations":[{"create":{"userIdentifiers":[{"hashedEmail":"x"}]}}]}`, 400, "INVALID_ARGUMENT"},
		{"too many identifiers", nil, `{"operations":[` + strings.Repeat(many+",", MaxIdentifiers/MaxPerOperation) + many + `]}`, 400, "INVALID_ARGUMENT"},
		{"bad access token", func(c *client) { c.token = "ya29.wrong" }, `{"operations":[]}`, 401, "UNAUTHENTICATED"},
		{"rate limited", func(c *client) { c.s.FailNext(429) }, `{"operations":[]}`, 429, "RESOURCE_EXHAUSTED"},
		{"unavailable", func(c *client) { c.s.FailNext(503) }, `{"operations":[]}`, 503, "UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			job := c.createJob()
			if tt.setup != nil {
				tt.setup(c)
			}
			st, out := c.post(job+":addOperations", tt.body)
			e, _ := out["error"].(map[string]any)
			if st != tt.status || e == nil || e["status"] != tt.rpc {
				t.Fatalf("%d %v, want %d %s", st, out, tt.status, tt.rpc)
			}
		})
	}
}

func TestTokenRefusesWrongRefreshToken(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.PostForm(s.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "client_id": {ClientID}, "client_secret": {ClientSecret}, "refresh_token": {"1//revoked"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("%d %v, want 400 invalid_grant", resp.StatusCode, out)
	}
}

// TestSearchUserLists sends GoogleAdsService.Search requests shaped as the
// REST reference's: {"query", "pageToken"} in, {"results": [{"userList":
// {…}}], "fieldMask", "nextPageToken"} out.
func TestSearchUserLists(t *testing.T) {
	c := newClient(t, WithUserList("222", "Newsletter", "CRM_BASED"), WithUserList("333", "Visitors", "RULE_BASED"),
		WithUserList("444", "Buyers", "CRM_BASED"), WithPageSize(2))
	path := "customers/" + CustomerID + "/googleAds:search"
	query := "SELECT user_list.resource_name, user_list.name, user_list.type FROM user_list WHERE user_list.type = 'CRM_BASED'"
	var names []string
	token := ""
	pages := 0
	for {
		body, _ := json.Marshal(map[string]string{"query": query, "pageToken": token})
		st, out := c.post(path, string(body))
		if st != 200 || out["fieldMask"] != "userList.resourceName,userList.name,userList.type" {
			t.Fatalf("search: %d %v", st, out)
		}
		pages++
		rows, _ := out["results"].([]any)
		for _, r := range rows {
			ul := r.(map[string]any)["userList"].(map[string]any)
			if ul["type"] != "CRM_BASED" {
				t.Errorf("a %v list answered a CRM_BASED query", ul["type"])
			}
			names = append(names, ul["resourceName"].(string)+"="+ul["name"].(string))
		}
		next, _ := out["nextPageToken"].(string)
		if next == "" {
			break
		}
		token = next
	}
	want := []string{c.s.UserList() + "=Emulator customers", "customers/" + CustomerID + "/userLists/222=Newsletter", "customers/" + CustomerID + "/userLists/444=Buyers"}
	if pages != 2 || strings.Join(names, ";") != strings.Join(want, ";") {
		t.Errorf("%d pages %v, want 2 pages %v", pages, names, want)
	}
	// Without the filter every list is answered, with only the fields
	// selected.
	st, out := c.post(path, `{"query":"SELECT user_list.id FROM user_list"}`)
	rows, _ := out["results"].([]any)
	if st != 200 || len(rows) != 2 || len(rows[0].(map[string]any)["userList"].(map[string]any)) != 1 {
		t.Errorf("unfiltered search: %d %v", st, out)
	}
}

func TestSearchRefusals(t *testing.T) {
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"another resource", "", `{"query":"SELECT campaign.id FROM campaign"}`, 400, `"queryError":"BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"`},
		{"unknown field", "", `{"query":"SELECT user_list.size_for_search FROM user_list"}`, 400, `"queryError":"UNRECOGNIZED_FIELD"`},
		{"bad enum", "", `{"query":"SELECT user_list.name FROM user_list WHERE user_list.type = 'CRM'"}`, 400, `"queryError":"BAD_ENUM_CONSTANT"`},
		{"other condition", "", `{"query":"SELECT user_list.name FROM user_list WHERE user_list.name LIKE '%a%'"}`, 400, `"queryError":"QUERY_ERROR"`},
		{"not GAQL", "", `{"query":"user lists please"}`, 400, `"queryError":"QUERY_ERROR"`},
		{"empty query", "", `{"query":""}`, 400, `"queryError":"EXPECTED_SELECT"`},
		{"page size", "", `{"query":"SELECT user_list.name FROM user_list","pageSize":10}`, 400, `"requestError":"PAGE_SIZE_NOT_SUPPORTED"`},
		{"bad page token", "", `{"query":"SELECT user_list.name FROM user_list","pageToken":"nope"}`, 400, `"requestError":"INVALID_PAGE_TOKEN"`},
		{"another customer", "customers/9999999999/googleAds:search", `{"query":"SELECT user_list.name FROM user_list"}`, 403, `"authorizationError":"USER_PERMISSION_DENIED"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			path := tt.path
			if path == "" {
				path = "customers/" + CustomerID + "/googleAds:search"
			}
			st, out := c.post(path, tt.body)
			raw, _ := json.Marshal(out)
			if st != tt.status || !strings.Contains(string(raw), tt.code) || !strings.Contains(string(raw), "GoogleAdsFailure") {
				t.Errorf("%d %s, want %d with %s in a GoogleAdsFailure", st, raw, tt.status, tt.code)
			}
		})
	}
}

func TestJobsTakeCRMBasedListsOnly(t *testing.T) {
	c := newClient(t, WithUserList("333", "Visitors", "RULE_BASED"))
	st, out := c.post("customers/"+CustomerID+"/offlineUserDataJobs:create",
		`{"job":{"type":"CUSTOMER_MATCH_USER_LIST","customerMatchUserListMetadata":{"userList":"customers/`+CustomerID+`/userLists/333"}}}`)
	raw, _ := json.Marshal(out)
	if st != 400 || !strings.Contains(string(raw), "INVALID_USER_LIST_ID") {
		t.Errorf("a job for a RULE_BASED list: %d %s, want 400 INVALID_USER_LIST_ID", st, raw)
	}
}
