package mailchimp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/mailchimp/mailchimptest"
)

func openCatalog(t *testing.T, s *mailchimptest.Server, key string) connector.Catalog {
	t.Helper()
	if key == "" {
		key = s.APIKey()
	}
	c, err := Plugin().Catalog(context.Background(), spec().WithDefaults(connector.Settings{"api_key": key, "base_url": s.URL()}), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCatalogObjects(t *testing.T) {
	many := make([]string, 1003)
	for i := range many {
		many[i] = fmt.Sprintf("list%04d", i)
	}
	tests := []struct {
		name     string
		opts     []mailchimptest.Option
		want     []connector.ObjectInfo // a subset of the answer
		count    int
		requests int
	}{
		{name: "default audience", want: []connector.ObjectInfo{{Name: mailchimptest.DefaultListID, Label: mailchimptest.DefaultListName}}, count: 1, requests: 1},
		{name: "named audiences", opts: []mailchimptest.Option{mailchimptest.WithLists("aaa", "bbb"), mailchimptest.WithListName("bbb", "Customers")},
			want: []connector.ObjectInfo{{Name: "aaa", Label: "Audience aaa"}, {Name: "bbb", Label: "Customers"}}, count: 2, requests: 1},
		{name: "paged", opts: []mailchimptest.Option{mailchimptest.WithLists(many...)},
			want: []connector.ObjectInfo{{Name: "list0000", Label: "Audience list0000"}, {Name: "list1002", Label: "Audience list1002"}}, count: 1003, requests: 2},
		{name: "no audiences", opts: []mailchimptest.Option{mailchimptest.WithLists()}, count: 0, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t, tt.opts...)
			got, err := openCatalog(t, s, "").Objects(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Errorf("%d audiences, want %d", len(got), tt.count)
			}
			byName := map[string]connector.ObjectInfo{}
			for _, o := range got {
				if _, dup := byName[o.Name]; dup {
					t.Errorf("audience %s listed twice", o.Name)
				}
				byName[o.Name] = o
			}
			for _, want := range tt.want {
				if g := byName[want.Name]; g.Name != want.Name || g.Label != want.Label {
					t.Errorf("audience %s = %+v, want %+v", want.Name, g, want)
				}
			}
			if s.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", s.Requests(), tt.requests)
			}
		})
	}
}

func TestCatalogFields(t *testing.T) {
	many := make([]mailchimptest.MergeField, 1205)
	for i := range many {
		many[i] = mailchimptest.MergeField{Tag: fmt.Sprintf("F%d", i), Name: "f", Type: "number"}
	}
	tests := []struct {
		name     string
		fields   []mailchimptest.MergeField     // nil: the emulator's defaults
		want     map[string]connector.FieldInfo // a subset of the answer
		count    int
		requests int
	}{
		{name: "defaults", want: map[string]connector.FieldInfo{
			"email_address": {Name: "email_address", Type: "string", Unique: true},
			"status":        {Name: "status", Type: "string"},
			"tags":          {Name: "tags", Type: "array"},
			"FNAME":         {Name: "FNAME", Type: "text", Label: "First Name"},
			"ADDRESS":       {Name: "ADDRESS", Type: "address", Label: "Address"},
			"BIRTHDAY":      {Name: "BIRTHDAY", Type: "birthday", Label: "Birthday"},
			"PHONE":         {Name: "PHONE", Type: "phone", Label: "Phone Number"},
		}, count: 3 + 6, requests: 1},
		{name: "paged", fields: many, want: map[string]connector.FieldInfo{
			"F0":    {Name: "F0", Type: "number", Label: "f"},
			"F1204": {Name: "F1204", Type: "number", Label: "f"},
		}, count: 3 + 1205, requests: 2},
		{name: "no merge fields", fields: []mailchimptest.MergeField{}, want: map[string]connector.FieldInfo{
			"email_address": {Name: "email_address", Type: "string", Unique: true},
		}, count: 3, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []mailchimptest.Option
			if tt.fields != nil {
				opts = append(opts, mailchimptest.WithMergeFields(tt.fields...))
			}
			s := emulator(t, opts...)
			got, err := openCatalog(t, s, "").Fields(context.Background(), s.ListID())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Errorf("%d fields, want %d", len(got), tt.count)
			}
			byName := map[string]connector.FieldInfo{}
			for _, f := range got {
				if _, dup := byName[f.Name]; dup {
					t.Errorf("field %s listed twice", f.Name)
				}
				byName[f.Name] = f
			}
			for name, want := range tt.want {
				if byName[name] != want {
					t.Errorf("field %s = %+v, want %+v", name, byName[name], want)
				}
			}
			if s.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", s.Requests(), tt.requests)
			}
		})
	}
}

func TestCatalogRefused(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		call   func(connector.Catalog, string) error
		want   []string
		auth   bool
		status int
	}{
		{name: "fields of an unknown audience", call: func(c connector.Catalog, _ string) error {
			_, err := c.Fields(context.Background(), "nosuchlist")
			return err
		}, want: []string{"mailchimp", "merge fields of audience nosuchlist", "Resource Not Found"}, status: 404},
		{name: "fields with a wrong key", key: "wrong-emul1", call: func(c connector.Catalog, list string) error {
			_, err := c.Fields(context.Background(), list)
			return err
		}, want: []string{"mailchimp", "merge fields", "API Key Invalid"}, auth: true, status: 401},
		{name: "audiences with a wrong key", key: "wrong-emul1", call: func(c connector.Catalog, _ string) error {
			_, err := c.Objects(context.Background())
			return err
		}, want: []string{"mailchimp", "list audiences", "API Key Invalid"}, auth: true, status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			err := tt.call(openCatalog(t, s, tt.key), s.ListID())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong-emul1") {
				t.Errorf("error %q shows the API key", err)
			}
			var re *connector.RequestError
			if !errors.As(err, &re) || re.Auth != tt.auth || re.Status != tt.status {
				t.Fatalf("%v: want a *connector.RequestError with Auth %v, status %d", err, tt.auth, tt.status)
			}
		})
	}
}

func TestCatalogSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings connector.Settings
		want     string
	}{
		{name: "no key", settings: connector.Settings{}, want: "api_key is required"},
		{name: "key without data center", settings: connector.Settings{"api_key": "abc"}, want: "data center"},
		{name: "bad base_url", settings: connector.Settings{"api_key": "k-us1", "base_url": "ftp://x"}, want: "base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCatalog(context.Background(), spec().WithDefaults(tt.settings), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewCatalog: %v, want an error saying %q", err, tt.want)
			}
		})
	}
	c, err := NewCatalog(context.Background(), spec().WithDefaults(connector.Settings{"api_key": "k-us1", "base_url": "http://127.0.0.1:1"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fields(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "audience id") {
		t.Errorf("Fields of no object: %v, want an error naming the audience id", err)
	}
}
