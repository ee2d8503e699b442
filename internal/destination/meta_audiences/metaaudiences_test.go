package metaaudiences

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/meta_audiences/metaaudiencestest"
)

func TestEntry(t *testing.T) {
	for _, c := range []struct{ key, raw, norm, why string }{
		{KeyEmail, "  Ann@Example.COM ", "ann@example.com", ""},
		{KeyEmail, "nope", "", "not an email"},
		{KeyPhone, "+1 (650) 555-1212", "16505551212", ""},
		{KeyPhone, "0044 20 7946 0958", "442079460958", ""},
		{KeyPhone, "12", "", "7 to 15 digits"},
		{KeyFirst, "Mary-Jane", "maryjane", ""},
		{KeyLastName, "O'Brien", "obrien", ""},
		{KeyCity, "San Francisco", "sanfrancisco", ""},
		{KeyZip, "94103-1234", "94103", ""},
		{KeyZip, "SW1A 1AA", "sw1a1aa", ""},
		{KeyCountry, "US", "us", ""},
		{KeyCountry, "USA", "", "two-letter"},
		{KeyGender, "Female", "f", ""},
		{KeyDOBMonth, "3", "03", ""},
		{KeyDOBDay, "32", "", "01 to 31"},
		{KeyMADID, " 6D92078A-8246-4BA4-AE5B-76104861E7DC", "6d92078a-8246-4ba4-ae5b-76104861e7dc", ""},
		{KeyExternID, " crm-42 ", "crm-42", ""},
	} {
		norm, why := Normalize(c.key, c.raw)
		if norm != c.norm || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
			t.Errorf("Normalize(%s, %q) = %q, %q; want %q, %q", c.key, c.raw, norm, why, c.norm, c.why)
		}
	}
	h := Hash("ann@example.com")
	for _, c := range []struct{ key, raw, want string }{
		{KeyEmail, "ANN@example.com", h},
		{KeyEmail, strings.ToUpper(h), h}, // already hashed: passed through
		{KeyExternID, "crm-42", "crm-42"}, // never hashed
		{KeyEmail, "", ""},
	} {
		if got, _ := Entry(c.key, c.raw); got != c.want {
			t.Errorf("Entry(%s, %q) = %q, want %q", c.key, c.raw, got, c.want)
		}
	}
}

type memLog struct {
	mu   sync.Mutex
	reqs []connector.Request
}

func (l *memLog) LogRequest(r connector.Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}
func (l *memLog) Full() bool { return false }

func newDest(t *testing.T, s *metaaudiencestest.Server, mode string, log connector.RequestLog) *Destination {
	t.Helper()
	d, err := newDestination(connector.Settings{"access_token": s.Token(), "base_url": s.URL()}, connector.Target{
		Sync: "s", Mode: mode, Object: s.Audience(), Identifier: []string{KeyEmail},
		Fields: []string{KeyEmail, KeyPhone, KeyFirst, KeyMADID}, Requests: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(t.Context()) })
	return d
}

func rec(op connector.Op, key string, kv ...string) connector.Record {
	r := connector.Record{Op: op, Key: key}
	for i := 0; i < len(kv); i += 2 {
		r.Fields = append(r.Fields, connector.FieldValue{Name: kv[i], Value: kv[i+1]})
	}
	return r
}

func TestWrite(t *testing.T) {
	s, err := metaaudiencestest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := &memLog{}
	d := newDest(t, s, "mirror", log)
	err = d.Write(t.Context(), &connector.Batch{Seq: 1, Records: []connector.Record{
		rec(connector.OpUpsert, "ann@example.com", KeyEmail, "Ann@Example.com", KeyFirst, "Ann"),
		rec(connector.OpUpsert, "bob@example.com", KeyEmail, "bob@example.com", KeyPhone, "+1 650 555 1212"),
		rec(connector.OpUpsert, "x", KeyFirst, "Solo"),
		rec(connector.OpUpsert, "cy@example.com", KeyEmail, "cy@example.com", KeyMADID, "not-a-device"),
	}})
	var re *connector.RowErrors
	if !errors.As(err, &re) || len(re.Failed) != 2 || !strings.Contains(re.Failed[2], "no usable identifier") || !strings.Contains(re.Failed[3], "Invalid MADID") {
		t.Fatalf("Write = %v (%+v)", err, re)
	}
	if !s.Has(s.Audience(), KeyEmail, Hash("ann@example.com")) || !s.Has(s.Audience(), KeyPhone, Hash("16505551212")) || len(s.Members(s.Audience())) != 2 {
		t.Fatalf("members = %v", s.Members(s.Audience()))
	}
	if err := d.Write(t.Context(), &connector.Batch{Seq: 2, Records: []connector.Record{rec(connector.OpDelete, "ANN@example.com")}}); err != nil {
		t.Fatal(err)
	}
	if s.Has(s.Audience(), KeyEmail, Hash("ann@example.com")) || len(s.Members(s.Audience())) != 1 {
		t.Fatalf("after remove members = %v", s.Members(s.Audience()))
	}
	for _, r := range log.reqs {
		if strings.Contains(r.URL+r.RequestBody+r.ResponseBody, s.Token()) {
			t.Errorf("request log shows the token: %+v", r)
		}
	}
	if len(log.reqs) != 2 || log.reqs[1].Method != "DELETE" {
		t.Errorf("logged %d requests: %+v", len(log.reqs), log.reqs)
	}
}

func TestErrors(t *testing.T) {
	s, err := metaaudiencestest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := newDest(t, s, "upsert", nil)
	for _, c := range []struct {
		code             int
		auth, retry      bool
		minWait, message string
	}{
		{190, true, false, "", "Error validating access token"},
		{17, false, true, "", "code 17"},
		{613, false, true, "", "code 613"},
		{80003, false, true, "1m0s", "too many calls"},
		{1, false, true, "", "unknown error"},
		{100, false, false, "", "code 100"},
	} {
		s.FailNext(c.code)
		err := d.Write(t.Context(), &connector.Batch{Records: []connector.Record{rec(connector.OpUpsert, "a", KeyEmail, "a@example.com")}})
		var re *connector.RequestError
		if !errors.As(err, &re) || re.Auth != c.auth || re.Retryable != c.retry || !strings.Contains(re.Message, c.message) ||
			(c.minWait != "" && re.RetryAfter.String() != c.minWait) || strings.Contains(re.Message, s.Token()) {
			t.Errorf("code %d: %#v", c.code, re)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		target connector.Target
	}{
		{"not a schema key", connector.Target{Object: "1", Mode: "upsert", Fields: []string{"email"}}},
		{"object not numeric", connector.Target{Object: "abc", Mode: "upsert"}},
		{"mirror without identifier", connector.Target{Object: "1", Mode: "mirror"}},
		{"update", connector.Target{Object: "1", Mode: "update"}},
	} {
		if _, err := newDestination(connector.Settings{"access_token": "tok1"}, c.target); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
