package metaaudiences

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/meta_audiences/metaaudiencestest"
)

// recorder keeps the URLs and Authorization headers a catalog sends.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	urls []string
	auth []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func TestCatalogObjects(t *testing.T) {
	extra := []metaaudiencestest.Option{
		metaaudiencestest.WithAudience("23850000000000002", "Site visitors", "WEBSITE"),
		metaaudiencestest.WithAudience("23850000000000003", "Newsletter", "CUSTOM"),
		metaaudiencestest.WithAudience("23850000000000004", "Lookalike (US, 1%)", "LOOKALIKE"),
		metaaudiencestest.WithAudience("23850000000000005", "Buyers", "CUSTOM"),
	}
	all := []connector.ObjectInfo{
		{Name: metaaudiencestest.DefaultAudience, Label: "Emulator customers"},
		{Name: "23850000000000003", Label: "Newsletter"},
		{Name: "23850000000000005", Label: "Buyers"},
	}
	tests := []struct {
		name     string
		opts     []metaaudiencestest.Option
		account  string // default: act_ + the emulator's
		token    string // default: the emulator's
		pageSize int
		faults   []int
		want     []connector.ObjectInfo
		wantReqs int
		wantErr  []string
	}{
		{
			name:     "the default audience",
			want:     all[:1],
			wantReqs: 1,
		},
		{
			name:     "customer lists only, one page",
			opts:     extra,
			want:     all,
			wantReqs: 1,
		},
		{
			name:     "pages by the after cursor",
			opts:     extra,
			pageSize: 2,
			want:     all,
			wantReqs: 3,
		},
		{
			name:     "a bare ad account id",
			account:  metaaudiencestest.DefaultAdAccount,
			want:     all[:1],
			wantReqs: 1,
		},
		{
			name:    "an invalid token is an authentication failure",
			token:   "EAAwrong",
			wantErr: []string{"list custom audiences of act_" + metaaudiencestest.DefaultAdAccount, "authentication failed", "code 190"},
		},
		{
			name:    "an ad account the token cannot read",
			account: "act_999",
			wantErr: []string{"act_999", "does not exist", "code 100"},
		},
		{
			name:    "throttled",
			faults:  []int{80003},
			wantErr: []string{"too many calls", "code 80003"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := metaaudiencestest.New(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			s.FailNext(tt.faults...)
			token, account := s.Token(), "act_"+s.AdAccount()
			if tt.token != "" {
				token = tt.token
			}
			if tt.account != "" {
				account = tt.account
			}
			c, err := newCatalog(spec().WithDefaults(connector.Settings{"access_token": token, "base_url": s.URL(), "ad_account_id": account}))
			if err != nil {
				t.Fatal(err)
			}
			if tt.pageSize > 0 {
				c.pageSize = tt.pageSize
			}
			rec := &recorder{next: c.client.Transport}
			if rec.next == nil {
				rec.next = http.DefaultTransport
			}
			c.client.Transport = rec
			objs, err := c.Objects(t.Context())
			for i, u := range rec.urls {
				if strings.Contains(u, token) || rec.auth[i] != "Bearer "+token {
					t.Errorf("request %s with Authorization %q: the token must travel in the header only", u, rec.auth[i])
				}
			}
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Objects = %v, want an error", objs)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
						t.Errorf("err = %v, want it to contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("the token leaked into the error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(objs, tt.want, func(a, b connector.ObjectInfo) bool { return a.Name == b.Name && a.Label == b.Label }) {
				t.Errorf("objects = %+v, want %+v", objs, tt.want)
			}
			if s.Requests() != tt.wantReqs {
				t.Errorf("%d requests, want %d", s.Requests(), tt.wantReqs)
			}
			// Every listed name is an object a sync can give.
			for _, o := range objs {
				if _, err := newDestination(spec().WithDefaults(connector.Settings{"access_token": token}), connector.Target{Sync: "s", Mode: "upsert", Object: o.Name}); err != nil {
					t.Errorf("New refuses the listed object %s: %v", o.Name, err)
				}
			}
		})
	}
}

func TestCatalogNotListed(t *testing.T) {
	s, err := metaaudiencestest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := NewCatalog(t.Context(), spec().WithDefaults(connector.Settings{"access_token": s.Token(), "base_url": s.URL()}), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Objects(t.Context()); !errors.Is(err, connector.ErrNotListed) || !strings.Contains(err.Error(), "ad_account_id") {
		t.Errorf("Objects without ad_account_id: err = %v, want ErrNotListed naming ad_account_id", err)
	}
	if _, err := c.Fields(t.Context(), s.Audience()); !errors.Is(err, connector.ErrNotListed) {
		t.Errorf("Fields err = %v, want ErrNotListed", err)
	}
	if s.Requests() != 0 {
		t.Errorf("%d requests, want none", s.Requests())
	}
}

func TestNewCatalogRefuses(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settings connector.Settings
		want     string
	}{
		{"no token", connector.Settings{"ad_account_id": "act_1"}, "access_token is required"},
		{"ad account not numeric", connector.Settings{"access_token": "EAA1", "ad_account_id": "act_abc"}, `ad_account_id "act_abc"`},
		{"ad account prefix only", connector.Settings{"access_token": "EAA1", "ad_account_id": "act_"}, "act_<digits>"},
		{"bad version", connector.Settings{"access_token": "EAA1", "api_version": "24"}, "api_version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCatalog(t.Context(), spec().WithDefaults(tt.settings), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
