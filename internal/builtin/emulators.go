package builtin

import (
	"fmt"
	"sort"

	"github.com/riptide-data/riptide/internal/destination/braze/brazetest"
	"github.com/riptide-data/riptide/internal/destination/customerio/customeriotest"
	"github.com/riptide-data/riptide/internal/destination/google_ads/googleadstest"
	"github.com/riptide-data/riptide/internal/destination/hubspot/hubspottest"
	"github.com/riptide-data/riptide/internal/destination/intercom/intercomtest"
	"github.com/riptide-data/riptide/internal/destination/iterable/iterabletest"
	"github.com/riptide-data/riptide/internal/destination/mailchimp/mailchimptest"
	"github.com/riptide-data/riptide/internal/destination/meta_audiences/metaaudiencestest"
	"github.com/riptide-data/riptide/internal/destination/salesforce/salesforcetest"
	"github.com/riptide-data/riptide/internal/destination/segment/segmenttest"
	"github.com/riptide-data/riptide/internal/destination/slack/slacktest"
	"github.com/riptide-data/riptide/internal/destination/webhook/webhooktest"
)

// Emulator runs a destination's emulator standalone: a local sandbox of
// the vendor's API for developing syncs without an account.
type Emulator struct {
	// Start listens on addr (host:port) and returns the base URL and the
	// token to configure, a summary of what was received, and a stop
	// function.
	Start func(addr string) (*RunningEmulator, error)
}

// RunningEmulator is a started emulator.
type RunningEmulator struct {
	BaseURL string
	Token   string // empty when the API takes none
	Summary func() string
	Stop    func()
}

// Emulators returns the emulators that can run standalone, by destination
// type.
func Emulators() map[string]Emulator {
	return map[string]Emulator{
		"braze": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := brazetest.New(brazetest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.APIKey(),
				Summary: func() string { return fmt.Sprintf("%d requests, %d users", s.Requests(), len(s.Users())) },
				Stop:    func() { s.Close() },
			}, nil
		}},
		"customerio": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := customeriotest.New(customeriotest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.SiteID() + ":" + s.APIKey(),
				Summary: func() string { return fmt.Sprintf("%d requests, %d people", s.Requests(), len(s.People())) },
				Stop:    func() { s.Close() },
			}, nil
		}},
		"intercom": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := intercomtest.New(intercomtest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.Token(),
				Summary: func() string { return fmt.Sprintf("%d requests, %d contacts", s.Requests(), len(s.Contacts())) },
				Stop:    func() { s.Close() },
			}, nil
		}},
		"iterable": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := iterabletest.New(iterabletest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.APIKey(),
				Summary: func() string { return fmt.Sprintf("%d requests, %d users", s.Requests(), len(s.Users())) },
				Stop:    func() { s.Close() },
			}, nil
		}},
		"hubspot": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := hubspottest.New(hubspottest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.Token(),
				Summary: func() string {
					return fmt.Sprintf("%d requests, %d contacts, %d companies", s.Requests(),
						len(s.Records("contacts", "hs_object_id")), len(s.Records("companies", "hs_object_id")))
				},
				Stop: func() { s.Close() },
			}, nil
		}},
		"google_ads": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := googleadstest.New(googleadstest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				// The refresh token; the other credentials are
				// googleadstest's constants, token_url is base_url + /token.
				BaseURL: s.URL(),
				Token:   googleadstest.RefreshToken,
				Summary: func() string {
					return fmt.Sprintf("%d requests, %d jobs, %d members in user list %s", s.Requests(), len(s.Jobs()), len(s.Members(s.UserList())), s.UserList())
				},
				Stop: func() { s.Close() },
			}, nil
		}},
		"meta_audiences": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := metaaudiencestest.New(metaaudiencestest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.Token(),
				Summary: func() string {
					return fmt.Sprintf("%d requests, %d members in audience %s", s.Requests(), len(s.Members(s.Audience())), s.Audience())
				},
				Stop: func() { s.Close() },
			}, nil
		}},
		"mailchimp": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := mailchimptest.New(mailchimptest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.APIKey(),
				Summary: func() string {
					return fmt.Sprintf("%d requests, %d members in list %s", s.Requests(), len(s.Active(s.ListID())), s.ListID())
				},
				Stop: func() { s.Close() },
			}, nil
		}},
		"salesforce": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := salesforcetest.New(salesforcetest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				// client_id:client_secret:refresh_token, the settings to give.
				Token:   s.ClientID() + ":" + s.ClientSecret() + ":" + s.RefreshToken(),
				Summary: func() string { return fmt.Sprintf("%d requests, %d token grants", s.Requests(), len(s.Grants())) },
				Stop:    func() { s.Close() },
			}, nil
		}},
		"segment": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := segmenttest.New(segmenttest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.WriteKey(),
				Summary: func() string {
					return fmt.Sprintf("%d requests, %d calls accepted, %d profiles, %d track events", s.Requests(), s.Calls(), len(s.Profiles()), len(s.Events()))
				},
				Stop: func() { s.Close() },
			}, nil
		}},
		"slack": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := slacktest.New(slacktest.WithAddr(addr))
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Token:   s.Token(),
				Summary: func() string {
					return fmt.Sprintf("%d requests, %d messages posted, %d rate-limited", s.Requests(), len(s.Messages()), s.RateLimited())
				},
				Stop: func() { s.Close() },
			}, nil
		}},
		"webhook": {Start: func(addr string) (*RunningEmulator, error) {
			s, err := webhooktest.Listen(addr)
			if err != nil {
				return nil, err
			}
			return &RunningEmulator{
				BaseURL: s.URL(),
				Summary: func() string {
					return fmt.Sprintf("%d requests, %d records accepted, %d keys held", s.RequestCount(), s.Count(), len(s.Latest()))
				},
				Stop: s.Close,
			}, nil
		}},
	}
}

// EmulatorNames lists the emulators, sorted.
func EmulatorNames() []string {
	names := make([]string, 0)
	for n := range Emulators() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
