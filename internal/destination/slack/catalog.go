package slack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// Paging of conversations.list.
const (
	// listPage is the channels asked for per conversations.list call:
	// Slack recommends no more than 200 (it allows up to 1000).
	listPage = 200
	// maxListWaits bounds how often one listing waits out ratelimited:
	// conversations.list is a Tier 2 method (about 20 calls a minute), so
	// a workspace of many thousand channels needs a few waits.
	maxListWaits = 5
	// maxListWait is the longest Retry-After the listing sleeps through.
	maxListWait = time.Minute
)

// Catalog lists the channels a bot token can post to.
type Catalog struct {
	*api
	pageSize int
	sleep    func(context.Context, time.Duration) error
}

// NewCatalog connects a Catalog from the destination's settings.
func NewCatalog(_ context.Context, settings connector.Settings, _ string) (connector.Catalog, error) {
	return newCatalog(settings)
}

func newCatalog(settings connector.Settings) (*Catalog, error) {
	a, err := newAPI(settings, nil)
	if err != nil {
		return nil, err
	}
	return &Catalog{api: a, pageSize: listPage, sleep: sleep}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// channel is one conversation of conversations.list.
type channel struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	IsArchived bool   `json:"is_archived"`
	IsPrivate  bool   `json:"is_private"`
	IsMember   bool   `json:"is_member"`
}

type listAnswer struct {
	response
	Channels []channel `json:"channels"`
	Meta     struct {
		NextCursor string `json:"next_cursor"`
	} `json:"response_metadata"`
}

// Objects lists the workspace's unarchived public and private channels
// the bot can post to: those it is a member of, and every public channel
// when the token has chat:write.public (which lets a bot post without
// joining). The name is the channel ID; "#name" and "name" are aliases, as
// a sync's object may give either.
func (c *Catalog) Objects(ctx context.Context) ([]connector.ObjectInfo, error) {
	var out []connector.ObjectInfo
	cursor := ""
	waits := 0
	for {
		form := url.Values{
			"types":            {"public_channel,private_channel"},
			"exclude_archived": {"true"},
			"limit":            {strconv.Itoa(c.pageSize)},
		}
		if cursor != "" {
			form.Set("cursor", cursor)
		}
		var ans listAnswer
		err := c.call(ctx, "conversations.list", "application/x-www-form-urlencoded", []byte(form.Encode()), &ans)
		var re *connector.RequestError
		if errors.As(err, &re) && re.Retryable && re.RetryAfter > 0 && re.RetryAfter <= maxListWait && waits < maxListWaits {
			waits++
			if err := c.sleep(ctx, re.RetryAfter); err != nil {
				return nil, fmt.Errorf("slack: list channels: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, listError(err)
		}
		public := slices.Contains(strings.Split(ans.scopes, ","), "chat:write.public")
		for _, ch := range ans.Channels {
			if ch.IsArchived || !(ch.IsMember || public && !ch.IsPrivate) {
				continue
			}
			out = append(out, connector.ObjectInfo{Name: ch.ID, Label: ch.Name, Aliases: []string{"#" + ch.Name, ch.Name}})
		}
		if ans.Meta.NextCursor == "" {
			return out, nil
		}
		cursor = ans.Meta.NextCursor
	}
}

// listError says what a refused conversations.list means for the user:
// an auth failure says the token was refused, a missing scope names the
// scopes to add to the app.
func listError(err error) error {
	var re *connector.RequestError
	switch {
	case errors.As(err, &re) && re.Auth && strings.HasPrefix(re.Message, "slack: missing_scope"):
		return fmt.Errorf("slack: list channels with conversations.list: authentication failed: the token lacks a scope; add channels:read and groups:read to the Slack app and reinstall it (%s)", re.Message)
	case errors.As(err, &re) && re.Auth:
		return fmt.Errorf("slack: list channels with conversations.list: authentication failed: Slack refused the bot token (%s)", re.Message)
	}
	return fmt.Errorf("slack: list channels with conversations.list: %w", err)
}

// Fields is not listed: a message is whatever its template renders, not
// a record with fields.
func (c *Catalog) Fields(context.Context, string) ([]connector.FieldInfo, error) {
	return nil, fmt.Errorf("slack: a message has no fields to list (its text comes from the mapping's text template): %w", connector.ErrNotListed)
}
