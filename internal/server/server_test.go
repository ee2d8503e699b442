package server

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riptide-data/riptide/internal/state"
)

// call is one request of the role matrix: the role it needs ("" for none)
// and what it answers when allowed.
type call struct {
	method, path, body string
	need               string
	ok                 int
}

func matrix() []call {
	const v, e, a = state.RoleViewer, state.RoleEditor, state.RoleAdmin
	return []call{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", v, 200},
		{"GET", "/metrics", "", v, 200},
		{"GET", "/api/v1/openapi.json", "", v, 200},
		{"GET", "/api/v1/syncs", "", v, 200},
		{"GET", "/api/v1/syncs/to_hook", "", v, 200},
		{"POST", "/api/v1/syncs/to_hook/runs", "", e, 202},
		{"GET", "/api/v1/syncs/to_hook/plan", "", e, 200},
		{"GET", "/api/v1/runs", "", v, 200},
		{"GET", "/api/v1/runs/0190-run-0", "", v, 200},
		{"GET", "/api/v1/runs/0190-run-0/errors", "", v, 200},
		{"GET", "/api/v1/runs/0190-run-0/requests", "", v, 200},
		{"GET", "/api/v1/sources", "", v, 200},
		{"GET", "/api/v1/sources/warehouse", "", v, 200},
		{"GET", "/api/v1/models", "", v, 200},
		{"GET", "/api/v1/models/customers", "", v, 200},
		{"GET", "/api/v1/models/customers/preview", "", v, 200},
		{"GET", "/api/v1/destinations", "", v, 200},
		{"GET", "/api/v1/destinations/hook", "", v, 200},
		{"GET", "/api/v1/connectors", "", v, 200},
		{"POST", "/api/v1/reload", "", e, 200},
		{"GET", "/api/v1/tokens", "", a, 200},
		{"POST", "/api/v1/tokens", `{"name":"made-NAME","role":"viewer"}`, a, 201},
		{"DELETE", "/api/v1/tokens/viewer-token", "", a, 204},
		{"GET", "/api/v1/audit", "", a, 200},
	}
}

func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	for _, c := range matrix() {
		for _, who := range []string{"none", "wrong", state.RoleViewer, state.RoleEditor, state.RoleAdmin} {
			t.Run(c.method+c.path+"/"+who, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				token := b.tokens[who]
				switch who {
				case "none":
					token = ""
				case "wrong":
					token = "rtk_" + strings.Repeat("A", 43)
				}
				body := strings.ReplaceAll(c.body, "NAME", who)
				want := c.ok
				switch {
				case c.need == "":
				case token == "" || who == "wrong":
					want = http.StatusUnauthorized
				case !state.RoleAllows(who, c.need):
					want = http.StatusForbidden
				}
				resp := b.do(t, c.method, c.path, token, body)
				if resp.status != want {
					t.Fatalf("%s %s as %s = %d, want %d: %s", c.method, c.path, who, resp.status, want, resp.body)
				}
				switch want {
				case http.StatusUnauthorized:
					if code := resp.errorCode(t); code != codeUnauthorized || resp.header.Get("WWW-Authenticate") == "" {
						t.Fatalf("401 code %q, WWW-Authenticate %q", code, resp.header.Get("WWW-Authenticate"))
					}
				case http.StatusForbidden:
					if code := resp.errorCode(t); code != codeForbidden {
						t.Fatalf("403 code %q", code)
					}
				}
			})
		}
	}
}

// TestEveryRouteDocumented checks that the matrix covers every route and
// that openapi.json documents each and nothing more.
func TestEveryRouteDocumented(t *testing.T) {
	b := setup(t)
	documented := map[string]bool{}
	for path, item := range b.spec.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	routes := b.srv.routes()
	if len(routes) != len(matrix()) {
		t.Errorf("%d routes, %d in the role matrix", len(routes), len(matrix()))
	}
	for _, rt := range routes {
		if !documented[rt.pattern] {
			t.Errorf("route %s is not in openapi.json", rt.pattern)
		}
		delete(documented, rt.pattern)
	}
	for op := range documented {
		t.Errorf("openapi.json documents %s, which the server does not serve", op)
	}
}

func TestSyncs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.tokens[state.RoleViewer]
	var list struct{ Items []syncJSON }
	b.do(t, "GET", "/api/v1/syncs", tok, "").json(t, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "manual_hook" || list.Items[1].Name != "to_hook" {
		t.Fatalf("syncs: %+v", list.Items)
	}
	manual, hook := list.Items[0], list.Items[1]
	if manual.Schedule != "manual" || manual.NextRun != nil || manual.LastRun != nil || !manual.MapAll {
		t.Errorf("manual_hook: %+v", manual)
	}
	if hook.Schedule != "every 15m0s" || hook.NextRun == nil || hook.LastRun == nil || hook.LastRun.ID != "0190-run-2" {
		t.Errorf("to_hook: %+v", hook)
	}
	if len(hook.Mapping) != 2 || hook.Mapping[1].Value != "****" {
		t.Errorf("to_hook mapping (the static value comes from ${STATIC_CODE}): %+v", hook.Mapping)
	}
	resp := b.do(t, "GET", "/api/v1/syncs/nope", tok, "")
	if resp.status != 404 || resp.errorCode(t) != codeNotFound || !strings.Contains(string(resp.body), `\"nope\"`) {
		t.Fatalf("unknown sync: %d %s", resp.status, resp.body)
	}
}

func TestTriggerRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.tokens[state.RoleEditor]
	resp := b.do(t, "POST", "/api/v1/syncs/to_hook/runs", tok, "")
	var q map[string]string
	resp.json(t, &q)
	if resp.status != 202 || q["id"] != "run-1" || q["status"] != "queued" || resp.header.Get("Location") != "/api/v1/runs/run-1" {
		t.Fatalf("trigger: %d %v %v", resp.status, q, resp.header)
	}
	b.do(t, "POST", "/api/v1/syncs/to_hook/runs", tok, `{"full_resync": true}`)
	if !b.sched.opts[1].FullResync || b.sched.opts[0].FullResync {
		t.Fatalf("options passed: %+v", b.sched.opts)
	}
	for _, c := range []struct {
		path, body string
		status     int
		code, says string
	}{
		{"/api/v1/syncs/nope/runs", "", 404, codeNotFound, "nope"},
		{"/api/v1/syncs/to_hook/runs", `{"full_resnyc": true}`, 400, codeInvalidRequest, "full_resnyc"},
		{"/api/v1/syncs/to_hook/runs", `{"full_resync": "yes"}`, 400, codeInvalidRequest, "full_resync"},
		{"/api/v1/syncs/to_hook/runs", `{} {}`, 400, codeInvalidRequest, "one JSON object"},
		{"/api/v1/syncs/to_hook/runs", `{"full_resync": true, "x": "` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, codeTooLarge, "larger than"},
	} {
		resp := b.do(t, "POST", c.path, tok, c.body)
		if resp.status != c.status || resp.errorCode(t) != c.code || !strings.Contains(string(resp.body), c.says) {
			t.Errorf("POST %s %.40s = %d %s", c.path, c.body, resp.status, resp.body)
		}
	}
	if len(b.sched.triggers) != 2 {
		t.Fatalf("bad requests reached the scheduler: %v", b.sched.triggers)
	}
	b.sched.stopped = true
	resp = b.do(t, "POST", "/api/v1/syncs/to_hook/runs", tok, "")
	if resp.status != 503 || resp.errorCode(t) != codeUnavailable {
		t.Fatalf("stopped scheduler: %d %s", resp.status, resp.body)
	}
	resp = b.do(t, "GET", "/readyz", tok, "")
	if resp.status != 503 || !strings.Contains(string(resp.body), "not running") {
		t.Fatalf("readyz with the scheduler stopped: %d %s", resp.status, resp.body)
	}
}

func TestRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.tokens[state.RoleViewer]
	var page list[state.Run]
	b.do(t, "GET", "/api/v1/runs?limit=2", tok, "").json(t, &page)
	if len(page.Items) != 2 || page.Items[0].ID != "0190-run-2" || page.NextOffset == nil || *page.NextOffset != 2 {
		t.Fatalf("first page: %+v", page)
	}
	page = list[state.Run]{}
	b.do(t, "GET", "/api/v1/runs?limit=2&offset=2", tok, "").json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != "0190-run-0" || page.NextOffset != nil {
		t.Fatalf("last page: %+v", page)
	}
	page = list[state.Run]{}
	b.do(t, "GET", "/api/v1/runs?sync=to_hook&status=failed", tok, "").json(t, &page)
	if len(page.Items) != 1 || page.Items[0].Error == "" {
		t.Fatalf("failed runs: %+v", page)
	}
	page = list[state.Run]{}
	b.do(t, "GET", "/api/v1/runs?sync=manual_hook", tok, "").json(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("manual_hook runs: %+v", page)
	}
	var run state.Run
	b.do(t, "GET", "/api/v1/runs/0190-run-1", tok, "").json(t, &run)
	if run.Status != state.StatusSucceeded || run.Counts.Succeeded != 148 || run.FinishedAt == nil {
		t.Fatalf("run: %+v", run)
	}
	var errs list[state.RowError]
	b.do(t, "GET", "/api/v1/runs/0190-run-0/errors?limit=2", tok, "").json(t, &errs)
	if len(errs.Items) != 2 || errs.Items[0].Key != "7" || errs.Total == nil || *errs.Total != 3 || errs.NextOffset == nil {
		t.Fatalf("errors: %+v", errs)
	}
	var reqs list[state.Request]
	b.do(t, "GET", "/api/v1/runs/0190-run-0/requests", tok, "").json(t, &reqs)
	if len(reqs.Items) != 2 || reqs.Items[1].Error != "connection refused" {
		t.Fatalf("requests: %+v", reqs)
	}
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/runs?status=done", 400, codeInvalidRequest},
		{"/api/v1/runs?limit=0", 400, codeInvalidRequest},
		{"/api/v1/runs?limit=501", 400, codeInvalidRequest},
		{"/api/v1/runs?offset=-1", 400, codeInvalidRequest},
		{"/api/v1/runs?limit=x", 400, codeInvalidRequest},
		{"/api/v1/runs/0190-run", 400, codeInvalidRequest}, // ambiguous prefix
		{"/api/v1/runs/nope", 404, codeNotFound},
		{"/api/v1/runs/nope/errors", 404, codeNotFound},
		{"/api/v1/runs/nope/requests", 404, codeNotFound},
		{"/api/v1/runs/0190-run-0/errors?limit=1001", 400, codeInvalidRequest},
	} {
		resp := b.do(t, "GET", c.path, tok, "")
		if resp.status != c.status || resp.errorCode(t) != c.code {
			t.Errorf("GET %s = %d %s", c.path, resp.status, resp.body)
		}
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var p planJSON
	b.do(t, "GET", "/api/v1/syncs/to_hook/plan", b.tokens[state.RoleEditor], "").json(t, &p)
	if p.Status != "planned" || p.Counts.Planned != 150 || len(p.Samples["added"]) != 2 {
		t.Fatalf("plan: %+v", p)
	}
	if resp := b.do(t, "GET", "/api/v1/syncs/nope/plan", b.tokens[state.RoleEditor], ""); resp.status != 404 {
		t.Fatalf("plan of an unknown sync: %d", resp.status)
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.tokens[state.RoleViewer]
	var dest connectionJSON
	b.do(t, "GET", "/api/v1/destinations/hook", tok, "").json(t, &dest)
	if dest.Type != "webhook" || dest.Settings["signing_secret"] != "****" || dest.Settings["url"] != "http://127.0.0.1:9/hook?key=****" {
		t.Fatalf("destination: %+v", dest.Settings)
	}
	if h, _ := dest.Settings["headers"].(map[string]any); h["X-Api-Key"] != "****" {
		t.Fatalf("headers: %+v", dest.Settings["headers"])
	}
	var src connectionJSON
	b.do(t, "GET", "/api/v1/sources/warehouse", tok, "").json(t, &src)
	if src.Type != "sqlite" || src.Settings["path"] != "warehouse.db" {
		t.Fatalf("source: %+v", src)
	}
	var prev previewJSON
	b.do(t, "GET", "/api/v1/models/customers/preview?limit=3", tok, "").json(t, &prev)
	if len(prev.Columns) != 2 || prev.Columns[1].Name != "email" || len(prev.Rows) != 3 || prev.Rows[2][1] != "c3@example.com" {
		t.Fatalf("preview: %+v", prev)
	}
	prev = previewJSON{}
	b.do(t, "GET", "/api/v1/models/customers/preview?limit=100", tok, "").json(t, &prev)
	if len(prev.Rows) != 100 {
		t.Fatalf("preview of 100: %d rows", len(prev.Rows))
	}
	var conns []connectorJSON
	b.do(t, "GET", "/api/v1/connectors", tok, "").json(t, &conns)
	if len(conns) < 10 || conns[0].Kind != "source" || !slices.ContainsFunc(conns, func(c connectorJSON) bool { return c.Type == "webhook" }) {
		t.Fatalf("connectors: %d, first %+v", len(conns), conns[0])
	}
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/models/customers/preview?limit=101", 400, codeInvalidRequest},
		{"/api/v1/models/customers/preview?offset=5", 400, codeInvalidRequest},
		{"/api/v1/models/nope/preview", 404, codeNotFound},
		{"/api/v1/models/nope", 404, codeNotFound},
		{"/api/v1/sources/nope", 404, codeNotFound},
		{"/api/v1/destinations/nope", 404, codeNotFound},
		{"/api/v1/nothing-here", 404, codeNotFound},
	} {
		resp := b.do(t, "GET", c.path, tok, "")
		if resp.status != c.status || resp.errorCode(t) != c.code {
			t.Errorf("GET %s = %d %s", c.path, resp.status, resp.body)
		}
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.tokens[state.RoleEditor]
	path := filepath.Join(b.dir, "riptide.yaml")
	good, _ := os.ReadFile(path)
	added := strings.Replace(string(good), "syncs:\n", "syncs:\n  third: {model: customers, destination: hook}\n", 1)
	os.WriteFile(path, []byte(added), 0o644)
	resp := b.do(t, "POST", "/api/v1/reload", tok, "")
	if resp.status != 200 || !strings.Contains(string(resp.body), `"syncs":3`) || b.sched.reloads != 1 {
		t.Fatalf("reload: %d %s (scheduler reloads %d)", resp.status, resp.body, b.sched.reloads)
	}
	os.WriteFile(path, []byte(strings.Replace(added, "model: customers, destination: hook}", "model: customerz, destination: hook}", 1)), 0o644)
	resp = b.do(t, "POST", "/api/v1/reload", tok, "")
	if resp.status != 422 || resp.errorCode(t) != codeInvalidConfig || !strings.Contains(string(resp.body), "riptide.yaml:") || !strings.Contains(string(resp.body), "customerz") {
		t.Fatalf("broken reload: %d %s", resp.status, resp.body)
	}
	if _, ok := b.srv.Project().Syncs["third"]; !ok || b.sched.reloads != 1 {
		t.Fatal("a broken reload replaced the running project")
	}
}

func TestTokensAndAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.tokens[state.RoleAdmin]
	resp := b.do(t, "POST", "/api/v1/tokens", admin, `{"name":"airflow","role":"editor"}`)
	var made map[string]string
	resp.json(t, &made)
	if resp.status != 201 || !strings.HasPrefix(made["token"], "rtk_") {
		t.Fatalf("create: %d %s", resp.status, resp.body)
	}
	b.tokens["airflow"] = made["token"] // never to be echoed again
	if r := b.do(t, "POST", "/api/v1/syncs/to_hook/runs", made["token"], ""); r.status != 202 {
		t.Fatalf("new token triggers: %d", r.status)
	}
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"name":"airflow","role":"editor"}`, 409, codeConflict},
		{`{"name":"x y","role":"editor"}`, 400, codeInvalidRequest},
		{`{"name":"x","role":"root"}`, 400, codeInvalidRequest},
		{`{"name":"x"`, 400, codeInvalidRequest},
	} {
		r := b.do(t, "POST", "/api/v1/tokens", admin, c.body)
		if r.status != c.status || r.errorCode(t) != c.code {
			t.Errorf("create %s = %d %s", c.body, r.status, r.body)
		}
	}
	if r := b.do(t, "DELETE", "/api/v1/tokens/airflow", admin, ""); r.status != 204 {
		t.Fatalf("revoke: %d", r.status)
	}
	if r := b.do(t, "DELETE", "/api/v1/tokens/airflow", admin, ""); r.status != 404 {
		t.Fatalf("revoke twice: %d", r.status)
	}
	if r := b.do(t, "GET", "/api/v1/runs", made["token"], ""); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	var toks struct{ Items []state.Token }
	b.do(t, "GET", "/api/v1/tokens", admin, "").json(t, &toks)
	if len(toks.Items) != 3 {
		t.Fatalf("tokens: %+v", toks.Items)
	}
	// A viewer's refused trigger is audited as denied.
	b.do(t, "POST", "/api/v1/syncs/to_hook/runs", b.tokens[state.RoleViewer], "")
	var audit list[state.AuditEntry]
	b.do(t, "GET", "/api/v1/audit", admin, "").json(t, &audit)
	var got []string
	for _, e := range slices.Backward(audit.Items) {
		got = append(got, e.Token+" "+e.Action+" "+e.Target+" "+e.Outcome)
	}
	want := []string{
		"admin-token tokens.create airflow ok",
		"airflow runs.trigger to_hook run run-1 ok",
		"admin-token tokens.create airflow error",
		"admin-token tokens.create x y error",
		"admin-token tokens.create x error",
		"admin-token tokens.create /api/v1/tokens error",
		"admin-token tokens.revoke airflow ok",
		"admin-token tokens.revoke airflow error",
		"admin-token tokens.list /api/v1/tokens ok",
		"viewer-token runs.trigger to_hook denied",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if audit.Items[0].At.IsZero() || audit.Items[0].Status != 403 {
		t.Fatalf("entry: %+v", audit.Items[0])
	}
}

func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sched.depth = 4
	run, err := b.store.GetRun(t.Context(), "0190-run-0")
	if err != nil {
		t.Fatal(err)
	}
	b.srv.metrics.ObserveRun(run)
	b.srv.metrics.ObserveRequest(connectorRequest("https://user:pw@api.example.com/v1/x?key=secret", 429))
	b.srv.metrics.ObserveWait("to_hook", "retry", 1500*time.Millisecond)
	b.srv.metrics.ObserveWait("to_hook", "rate_limit", 250*time.Millisecond)
	b.srv.metrics.ObserveWait("to_hook", "rate_limit", 250*time.Millisecond)
	resp := b.do(t, "GET", "/metrics", b.tokens[state.RoleViewer], "")
	text := string(resp.body)
	for _, want := range []string{
		`riptide_runs_total{status="partial",sync="to_hook"} 1`,
		`riptide_rows_total{outcome="failed",sync="to_hook"} 2`,
		`riptide_rows_total{outcome="added",sync="to_hook"} 150`,
		`riptide_run_duration_seconds_count{status="partial",sync="to_hook"} 1`,
		`riptide_destination_request_duration_seconds_count{code="429",host="api.example.com"} 1`,
		`riptide_delivery_waits_total{kind="retry",sync="to_hook"} 1`,
		`riptide_delivery_wait_seconds_total{kind="retry",sync="to_hook"} 1.5`,
		`riptide_delivery_waits_total{kind="rate_limit",sync="to_hook"} 2`,
		`riptide_delivery_wait_seconds_total{kind="rate_limit",sync="to_hook"} 0.5`,
		`riptide_queue_depth 4`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "secret") || strings.Contains(text, "pw@") {
		t.Error("/metrics shows URL secrets")
	}
	if r := b.do(t, "GET", "/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	if r := b.do(t, "GET", "/readyz", b.tokens[state.RoleViewer], ""); r.status != 200 || !strings.Contains(string(r.body), `"ready"`) {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
}
