package metaaudiences

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// audiencePage is the audiences asked for per call (the edge's default is
// 25).
const audiencePage = 100

// maxAudiencePages bounds one listing against a server that hands out
// cursors forever.
const maxAudiencePages = 10000

// Catalog lists an ad account's customer-list Custom Audiences.
type Catalog struct {
	*graph
	account  string // digits of the ad account id; empty: not listed
	pageSize int
}

// NewCatalog connects a Catalog from the destination's settings.
func NewCatalog(_ context.Context, settings connector.Settings, _ string) (connector.Catalog, error) {
	return newCatalog(settings)
}

func newCatalog(settings connector.Settings) (*Catalog, error) {
	g, err := newGraph(settings, nil)
	if err != nil {
		return nil, err
	}
	account, err := adAccount(settings.String("ad_account_id"))
	if err != nil {
		return nil, err
	}
	return &Catalog{graph: g, account: account, pageSize: audiencePage}, nil
}

// adAccount reads an ad account id given as act_<digits> or digits.
func adAccount(raw string) (string, error) {
	id := strings.TrimPrefix(strings.TrimSpace(raw), "act_")
	if raw != "" && (id == "" || strings.Trim(id, "0123456789") != "") {
		return "", fmt.Errorf("meta_audiences: ad_account_id %q: want act_<digits> or the bare numeric id", raw)
	}
	return id, nil
}

type audiencesAnswer struct {
	Data []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Subtype string `json:"subtype"`
	} `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// Objects lists the ad account's customer-list Custom Audiences (subtype
// CUSTOM, the only ones the users edge takes) from GET
// /{version}/act_{id}/customaudiences, paging by the after cursor while
// Meta gives a next page. Each is named by its audience id, as a sync's
// object gives it. Without ad_account_id nothing is listed.
func (c *Catalog) Objects(ctx context.Context) ([]connector.ObjectInfo, error) {
	if c.account == "" {
		return nil, fmt.Errorf("meta_audiences: set ad_account_id to list the account's custom audiences: %w", connector.ErrNotListed)
	}
	// Meta's paging.next repeats the access token in its query, so the
	// next URL is built from the cursor rather than followed.
	path := "/" + c.version + "/act_" + c.account + "/customaudiences"
	var out []connector.ObjectInfo
	after := ""
	for page := 0; ; page++ {
		if page == maxAudiencePages {
			return nil, fmt.Errorf("meta_audiences: list custom audiences of act_%s: still paging after %d pages", c.account, maxAudiencePages)
		}
		q := url.Values{"fields": {"id,name,subtype"}, "limit": {strconv.Itoa(c.pageSize)}}
		if after != "" {
			q.Set("after", after)
		}
		var ans audiencesAnswer
		if err := c.do(ctx, "GET", path+"?"+q.Encode(), nil, &ans); err != nil {
			return nil, c.listError(err)
		}
		for _, a := range ans.Data {
			if a.Subtype != "CUSTOM" {
				continue
			}
			out = append(out, connector.ObjectInfo{Name: a.ID, Label: a.Name})
		}
		if ans.Paging.Next == "" || ans.Paging.Cursors.After == "" || ans.Paging.Cursors.After == after {
			return out, nil
		}
		after = ans.Paging.Cursors.After
	}
}

// listError says what a refused listing means: an auth failure names the
// token's needs and the account.
func (c *Catalog) listError(err error) error {
	var re *connector.RequestError
	if errors.As(err, &re) && re.Auth {
		return fmt.Errorf("meta_audiences: list custom audiences of act_%s: authentication failed (the access_token needs ads_management or ads_read on the ad account): %s", c.account, re.Message)
	}
	return fmt.Errorf("meta_audiences: list custom audiences of act_%s: %w", c.account, err)
}

// Fields is not listed: the schema keys a customer list takes come from
// Meta's documentation (the spec's Objects list them), not from an API.
func (c *Catalog) Fields(context.Context, string) ([]connector.FieldInfo, error) {
	return nil, fmt.Errorf("meta_audiences: the Graph API does not list a custom audience's schema keys (they are %s): %w", strings.Join(SchemaKeys, ", "), connector.ErrNotListed)
}
