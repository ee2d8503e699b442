package googleads

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// userListQuery selects the customer's Customer Match lists: only
// CRM_BASED lists take offline user data jobs of customer data.
const userListQuery = "SELECT user_list.resource_name, user_list.name, user_list.type FROM user_list WHERE user_list.type = 'CRM_BASED'"

// maxSearchPages bounds one listing: Google's pages hold 10,000 rows, so
// this is far beyond any account's user lists and only stops a server
// that hands out page tokens forever.
const maxSearchPages = 1000

// Catalog lists a customer's Customer Match user lists.
type Catalog struct {
	*client
}

// NewCatalog connects a Catalog from the destination's settings.
func NewCatalog(_ context.Context, settings connector.Settings, _ string) (connector.Catalog, error) {
	c, err := newClient(settings, nil)
	if err != nil {
		return nil, err
	}
	return &Catalog{client: c}, nil
}

type searchAnswer struct {
	Results []struct {
		UserList struct {
			ResourceName string `json:"resourceName"`
			Name         string `json:"name"`
			Type         string `json:"type"`
		} `json:"userList"`
	} `json:"results"`
	NextPageToken string `json:"nextPageToken"`
}

// Objects lists the customer's CRM-based user lists with GAQL through
// GoogleAdsService.Search, following nextPageToken. Each is named by its
// resource name, customers/{customer_id}/userLists/{id}, as a sync's
// object gives it.
func (c *Catalog) Objects(ctx context.Context) ([]connector.ObjectInfo, error) {
	var out []connector.ObjectInfo
	token := ""
	for page := 0; ; page++ {
		if page == maxSearchPages {
			return nil, fmt.Errorf("google_ads: list user lists: still paging after %d pages", maxSearchPages)
		}
		in := map[string]any{"query": userListQuery}
		if token != "" {
			in["pageToken"] = token
		}
		var ans searchAnswer
		if err := c.call(ctx, "customers/"+c.customer+"/googleAds:search", in, &ans); err != nil {
			return nil, searchError(c.customer, err)
		}
		for _, r := range ans.Results {
			ul := r.UserList
			if ul.ResourceName == "" || ul.Type != "CRM_BASED" {
				continue
			}
			out = append(out, connector.ObjectInfo{Name: ul.ResourceName, Label: ul.Name})
		}
		if ans.NextPageToken == "" || ans.NextPageToken == token {
			return out, nil
		}
		token = ans.NextPageToken
	}
}

// searchError says what a refused search means: an auth failure names the
// credentials and the account that were refused.
func searchError(customer string, err error) error {
	var re *connector.RequestError
	if errors.As(err, &re) && re.Auth {
		return fmt.Errorf("google_ads: list user lists of customer %s: authentication failed (check the OAuth client, refresh token, developer token and login_customer_id): %s", customer, strings.TrimPrefix(re.Message, "authentication failed: "))
	}
	return fmt.Errorf("google_ads: list user lists of customer %s with googleAds:search: %w", customer, err)
}

// Fields is not listed: a Customer Match list has no schema of its own;
// the identifiers are fixed by the API and New checks a mapping against
// them.
func (c *Catalog) Fields(context.Context, string) ([]connector.FieldInfo, error) {
	return nil, fmt.Errorf("google_ads: a user list has no fields to list (its identifiers are the fixed Customer Match fields): %w", connector.ErrNotListed)
}
