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
	// Objects are what a sync's object may name on this emulator (an
	// audience, a list), with what it is.
	Objects map[string]string
	Summary func() string
	Stop    func()
}

// emulator adapts one emulator package: how to start it on an address,
// the credential to configure, and a summary of what it received.
func emulator[S interface {
	URL() string
	Close() error
}](start func(addr string) (S, error), token func(S) string, summary func(S) string, objects ...func(S) (string, string)) Emulator {
	return Emulator{Start: func(addr string) (*RunningEmulator, error) {
		s, err := start(addr)
		if err != nil {
			return nil, err
		}
		re := &RunningEmulator{BaseURL: s.URL(), Summary: func() string { return summary(s) }, Stop: func() { s.Close() }}
		if token != nil {
			re.Token = token(s)
		}
		for _, o := range objects {
			if re.Objects == nil {
				re.Objects = map[string]string{}
			}
			name, what := o(s)
			re.Objects[name] = what
		}
		return re, nil
	}}
}

// Emulators returns the emulators that can run standalone, by destination
// type.
func Emulators() map[string]Emulator {
	return map[string]Emulator{
		"braze": emulator(
			func(a string) (*brazetest.Server, error) { return brazetest.New(brazetest.WithAddr(a)) },
			(*brazetest.Server).APIKey,
			func(s *brazetest.Server) string {
				return fmt.Sprintf("%d requests, %d users", s.Requests(), len(s.Users()))
			}),
		"customerio": emulator(
			func(a string) (*customeriotest.Server, error) { return customeriotest.New(customeriotest.WithAddr(a)) },
			func(s *customeriotest.Server) string { return s.SiteID() + ":" + s.APIKey() },
			func(s *customeriotest.Server) string {
				return fmt.Sprintf("%d requests, %d people", s.Requests(), len(s.People()))
			}),
		"intercom": emulator(
			func(a string) (*intercomtest.Server, error) { return intercomtest.New(intercomtest.WithAddr(a)) },
			(*intercomtest.Server).Token,
			func(s *intercomtest.Server) string {
				return fmt.Sprintf("%d requests, %d contacts", s.Requests(), len(s.Contacts()))
			}),
		"iterable": emulator(
			func(a string) (*iterabletest.Server, error) { return iterabletest.New(iterabletest.WithAddr(a)) },
			(*iterabletest.Server).APIKey,
			func(s *iterabletest.Server) string {
				return fmt.Sprintf("%d requests, %d users", s.Requests(), len(s.Users()))
			}),
		"hubspot": emulator(
			func(a string) (*hubspottest.Server, error) { return hubspottest.New(hubspottest.WithAddr(a)) },
			(*hubspottest.Server).Token,
			func(s *hubspottest.Server) string {
				return fmt.Sprintf("%d requests, %d contacts, %d companies", s.Requests(),
					len(s.Records("contacts", "hs_object_id")), len(s.Records("companies", "hs_object_id")))
			}),
		// The token is the refresh token; the other credentials are
		// googleadstest's constants, token_url is base_url + /token.
		"google_ads": emulator(
			func(a string) (*googleadstest.Server, error) { return googleadstest.New(googleadstest.WithAddr(a)) },
			func(*googleadstest.Server) string { return googleadstest.RefreshToken },
			func(s *googleadstest.Server) string {
				return fmt.Sprintf("%d requests, %d jobs, %d members in user list %s", s.Requests(), len(s.Jobs()), len(s.Members(s.UserList())), s.UserList())
			},
			func(s *googleadstest.Server) (string, string) { return s.UserList(), "Customer Match user list" }),
		"meta_audiences": emulator(
			func(a string) (*metaaudiencestest.Server, error) {
				return metaaudiencestest.New(metaaudiencestest.WithAddr(a))
			},
			(*metaaudiencestest.Server).Token,
			func(s *metaaudiencestest.Server) string {
				return fmt.Sprintf("%d requests, %d members in audience %s", s.Requests(), len(s.Members(s.Audience())), s.Audience())
			},
			func(s *metaaudiencestest.Server) (string, string) {
				return s.Audience(), "custom audience of ad account " + metaaudiencestest.DefaultAdAccount + " (ad_account_id)"
			}),
		"mailchimp": emulator(
			func(a string) (*mailchimptest.Server, error) { return mailchimptest.New(mailchimptest.WithAddr(a)) },
			(*mailchimptest.Server).APIKey,
			func(s *mailchimptest.Server) string {
				return fmt.Sprintf("%d requests, %d members in list %s", s.Requests(), len(s.Active(s.ListID())), s.ListID())
			},
			func(s *mailchimptest.Server) (string, string) { return s.ListID(), "audience (list)" }),
		// The token is client_id:client_secret:refresh_token, the settings
		// to give.
		"salesforce": emulator(
			func(a string) (*salesforcetest.Server, error) { return salesforcetest.New(salesforcetest.WithAddr(a)) },
			func(s *salesforcetest.Server) string {
				return s.ClientID() + ":" + s.ClientSecret() + ":" + s.RefreshToken()
			},
			func(s *salesforcetest.Server) string {
				return fmt.Sprintf("%d requests, %d token grants", s.Requests(), len(s.Grants()))
			}),
		"segment": emulator(
			func(a string) (*segmenttest.Server, error) { return segmenttest.New(segmenttest.WithAddr(a)) },
			(*segmenttest.Server).WriteKey,
			func(s *segmenttest.Server) string {
				return fmt.Sprintf("%d requests, %d calls accepted, %d profiles, %d track events", s.Requests(), s.Calls(), len(s.Profiles()), len(s.Events()))
			}),
		"slack": emulator(
			func(a string) (*slacktest.Server, error) { return slacktest.New(slacktest.WithAddr(a)) },
			(*slacktest.Server).Token,
			func(s *slacktest.Server) string {
				return fmt.Sprintf("%d requests, %d messages posted, %d rate-limited", s.Requests(), len(s.Messages()), s.RateLimited())
			}),
		"webhook": emulator(
			func(a string) (webhookEmulator, error) {
				s, err := webhooktest.Listen(a)
				return webhookEmulator{s}, err
			},
			nil,
			func(s webhookEmulator) string {
				return fmt.Sprintf("%d requests, %d records accepted, %d keys held", s.RequestCount(), s.Count(), len(s.Latest()))
			}),
	}
}

// webhookEmulator gives the webhook receiver the Close the others have.
type webhookEmulator struct{ *webhooktest.Server }

func (w webhookEmulator) Close() error { w.Server.Close(); return nil }

// EmulatorNames lists the emulators, sorted.
func EmulatorNames() []string {
	names := make([]string, 0)
	for n := range Emulators() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
