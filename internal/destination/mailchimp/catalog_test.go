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

func TestFields(t *testing.T) {
	many := make([]mailchimptest.MergeField, 1205)
	for i := range many {
		many[i] = mailchimptest.MergeField{Tag: fmt.Sprintf("F%d", i), Name: "f", Type: "number"}
	}
	tests := []struct {
		name     string
		fields   []mailchimptest.MergeField // nil: the emulator's defaults
		object   string
		want     map[string]connector.FieldInfo // a subset of the answer
		count    int
		requests int
	}{
		{name: "defaults", want: map[string]connector.FieldInfo{
			"email_address": {Name: "email_address", Type: "string", Unique: true},
			"status":        {Name: "status", Type: "string"},
			"tags":          {Name: "tags", Type: "array"},
			"FNAME":         {Name: "FNAME", Type: "text"},
			"ADDRESS":       {Name: "ADDRESS", Type: "address"},
			"BIRTHDAY":      {Name: "BIRTHDAY", Type: "birthday"},
		}, count: 3 + 6, requests: 1},
		{name: "the target's list when no object is given", object: "-", want: map[string]connector.FieldInfo{
			"PHONE": {Name: "PHONE", Type: "phone"},
		}, count: 9, requests: 1},
		{name: "paged", fields: many, want: map[string]connector.FieldInfo{
			"F0":    {Name: "F0", Type: "number"},
			"F1204": {Name: "F1204", Type: "number"},
		}, count: 3 + 1205, requests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []mailchimptest.Option
			if tt.fields != nil {
				opts = append(opts, mailchimptest.WithMergeFields(tt.fields...))
			}
			s := emulator(t, opts...)
			d := open(t, s, "upsert", nil)
			object := s.ListID()
			if tt.object == "-" {
				object = ""
			}
			got, err := d.Fields(context.Background(), object)
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

func TestFieldsRefused(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		object string
		want   string
		auth   bool
	}{
		{name: "unknown list", object: "nosuchlist", want: "Resource Not Found"},
		{name: "wrong key", key: "wrong-emul1", want: "API Key Invalid", auth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := emulator(t)
			extra := connector.Settings{}
			if tt.key != "" {
				extra["api_key"] = tt.key
			}
			d := open(t, s, "upsert", extra)
			object := tt.object
			if object == "" {
				object = s.ListID()
			}
			_, err := d.Fields(context.Background(), object)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "merge fields") {
				t.Fatalf("Fields: %v, want an error about merge fields with %q", err, tt.want)
			}
			var re *connector.RequestError
			if !errors.As(err, &re) || re.Auth != tt.auth {
				t.Fatalf("Fields: %v: want a *connector.RequestError with Auth %v", err, tt.auth)
			}
		})
	}
}
