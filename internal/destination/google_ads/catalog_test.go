package googleads

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/google_ads/googleadstest"
)

func TestCatalogObjects(t *testing.T) {
	list := func(id string) string { return "customers/" + googleadstest.CustomerID + "/userLists/" + id }
	lists := []googleadstest.Option{
		googleadstest.WithUserList("222", "Newsletter", "CRM_BASED"),
		googleadstest.WithUserList("333", "Site visitors", "RULE_BASED"),
		googleadstest.WithUserList("444", "Buyers", "CRM_BASED"),
	}
	tests := []struct {
		name     string
		opts     []googleadstest.Option
		settings connector.Settings // over the emulator's
		faults   []int
		want     []connector.ObjectInfo
		wantReqs int // API requests, the token exchange included
		wantErr  []string
	}{
		{
			name:     "the default list",
			want:     []connector.ObjectInfo{{Name: list("111"), Label: "Emulator customers"}},
			wantReqs: 2,
		},
		{
			name: "CRM-based lists only, one page",
			opts: lists,
			want: []connector.ObjectInfo{
				{Name: list("111"), Label: "Emulator customers"}, {Name: list("222"), Label: "Newsletter"}, {Name: list("444"), Label: "Buyers"},
			},
			wantReqs: 2,
		},
		{
			name: "pages by nextPageToken",
			opts: append(slices.Clone(lists), googleadstest.WithPageSize(1)),
			want: []connector.ObjectInfo{
				{Name: list("111"), Label: "Emulator customers"}, {Name: list("222"), Label: "Newsletter"}, {Name: list("444"), Label: "Buyers"},
			},
			wantReqs: 4,
		},
		{
			name:     "dashes in customer_id and a manager account",
			settings: connector.Settings{"customer_id": "123-456-7890", "login_customer_id": "987-654-3210"},
			want:     []connector.ObjectInfo{{Name: list("111"), Label: "Emulator customers"}},
			wantReqs: 2,
		},
		{
			name:     "a revoked refresh token",
			settings: connector.Settings{"refresh_token": "1//revoked"},
			wantErr:  []string{"list user lists of customer 1234567890", "authentication failed", "invalid_grant"},
		},
		{
			name:     "a wrong developer token",
			settings: connector.Settings{"developer_token": "wrong-developer-token"},
			wantErr:  []string{"authentication failed", "UNAUTHENTICATED", "DEVELOPER_TOKEN_INVALID"},
		},
		{
			name:     "a customer the user cannot reach",
			settings: connector.Settings{"customer_id": "9999999999"},
			wantErr:  []string{"customer 9999999999", "authentication failed", "PERMISSION_DENIED", "USER_PERMISSION_DENIED"},
		},
		{
			name:    "a server fault",
			faults:  []int{503},
			wantErr: []string{"googleAds:search", "UNAVAILABLE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := googleadstest.New(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			s.FailNext(tt.faults...)
			raw := settings(s)
			for k, v := range tt.settings {
				raw[k] = v
			}
			cat, err := NewCatalog(t.Context(), spec().WithDefaults(raw), "")
			if err != nil {
				t.Fatal(err)
			}
			objs, err := cat.Objects(t.Context())
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Objects = %v, want an error", objs)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v, want it to contain %q", err, w)
					}
				}
				for _, secret := range []string{googleadstest.ClientSecret, googleadstest.RefreshToken, googleadstest.DeveloperToken, "ya29."} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("a secret leaked into the error: %v", err)
					}
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
				if _, err := newDestination(spec().WithDefaults(raw), connector.Target{Sync: "s", Mode: "upsert", Object: o.Name}); err != nil {
					t.Errorf("New refuses the listed object %s: %v", o.Name, err)
				}
			}
		})
	}
}

func TestCatalogFieldsNotListed(t *testing.T) {
	s, err := googleadstest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cat, err := NewCatalog(t.Context(), spec().WithDefaults(settings(s)), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Fields(t.Context(), s.UserList()); !errors.Is(err, connector.ErrNotListed) {
		t.Errorf("Fields err = %v, want ErrNotListed", err)
	}
	if s.Requests() != 0 {
		t.Errorf("Fields sent %d requests, want none", s.Requests())
	}
}

func TestNewCatalogRefuses(t *testing.T) {
	base := connector.Settings{"client_id": "c", "client_secret": "s", "refresh_token": "r", "developer_token": "d", "customer_id": "1234567890"}
	for _, tt := range []struct {
		name, key string
		value     any
		want      string
	}{
		{"missing refresh token", "refresh_token", "", "refresh_token"},
		{"short customer id", "customer_id", "12345", "customer_id"},
		{"bad manager id", "login_customer_id", "12", "login_customer_id"},
		{"bad base_url", "base_url", "googleads", "base_url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := connector.Settings{}
			for k, v := range base {
				raw[k] = v
			}
			raw[tt.key] = tt.value
			_, err := NewCatalog(t.Context(), spec().WithDefaults(raw), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}
