package braze

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/riptide-data/riptide/internal/connector"
)

// PermissionCustomAttributes is the REST API key permission the catalog's
// custom attribute export needs, besides users.track for syncs.
const PermissionCustomAttributes = "custom_attributes.get"

// maxAttributePages bounds the export: Braze returns 50 attributes a page,
// so this is half a million attributes, far beyond a workspace's; it stops
// a server whose next links never end.
const maxAttributePages = 10000

// standardAttributes are the user profile fields the /users/track
// attributes object takes besides custom attributes, with Braze's types
// (read from Braze's "User attributes object" and "Standard attributes"
// references). The identifiers identify profiles; braze_id is Braze's
// own.
var standardAttributes = []connector.FieldInfo{
	{Name: IDExternal, Type: "String", Label: "External user ID", Unique: true},
	{Name: IDEmail, Type: "String", Label: "Email", Unique: true},
	{Name: IDAlias, Type: "String", Label: "User alias (alias_name)", Unique: true},
	{Name: "braze_id", Type: "String", Label: "Braze ID", ReadOnly: true},
	{Name: "country", Type: "String", Label: "Country (ISO-3166-1 alpha-2)"},
	{Name: "current_location", Type: "Object", Label: "Current location (latitude, longitude)"},
	{Name: "date_of_first_session", Type: "Time", Label: "Date of first session"},
	{Name: "date_of_last_session", Type: "Time", Label: "Date of last session"},
	{Name: "dob", Type: "Date", Label: "Date of birth (YYYY-MM-DD)"},
	{Name: "email_subscribe", Type: "String", Label: "Email subscription (opted_in, subscribed, unsubscribed)"},
	{Name: "email_open_tracking_disabled", Type: "Boolean", Label: "Email open tracking disabled"},
	{Name: "email_click_tracking_disabled", Type: "Boolean", Label: "Email click tracking disabled"},
	{Name: "facebook", Type: "Object", Label: "Facebook data"},
	{Name: "first_name", Type: "String", Label: "First name"},
	{Name: "gender", Type: "String", Label: "Gender (M, F, O, N, P)"},
	{Name: "home_city", Type: "String", Label: "Home city"},
	{Name: "language", Type: "String", Label: "Language (ISO-639-1)"},
	{Name: "last_name", Type: "String", Label: "Last name"},
	{Name: "marked_email_as_spam_at", Type: "Time", Label: "Marked email as spam at"},
	{Name: "phone", Type: "String", Label: "Phone"},
	{Name: "push_subscribe", Type: "String", Label: "Push subscription (opted_in, subscribed, unsubscribed)"},
	{Name: "push_tokens", Type: "Array", Label: "Push tokens"},
	{Name: "subscription_groups", Type: "Array", Label: "Subscription groups"},
	{Name: "time_zone", Type: "String", Label: "Time zone (IANA)"},
	{Name: "twitter", Type: "Object", Label: "Twitter data"},
}

// Catalog reads a workspace's user profile fields.
type Catalog struct {
	api *api
}

// NewCatalog connects a Catalog from the destination's settings.
func NewCatalog(_ context.Context, settings connector.Settings, _ string) (connector.Catalog, error) {
	a, err := newAPI(settings, nil)
	if err != nil {
		return nil, err
	}
	return &Catalog{api: a}, nil
}

// Objects is ErrNotListed: Braze has no API listing objects; the
// destination writes user profiles (users), which the spec declares.
func (c *Catalog) Objects(context.Context) ([]connector.ObjectInfo, error) {
	return nil, fmt.Errorf("braze: list objects: %w", connector.ErrNotListed)
}

// customAttribute is an element of the custom attribute export.
type customAttribute struct {
	Name        string   `json:"name"`
	DataType    string   `json:"data_type"`
	Status      string   `json:"status"`
	Description string   `json:"description"`
	ArrayLength *int     `json:"array_length"`
	TagNames    []string `json:"tag_names"`
}

// Fields lists the fields a mapping can set on users: the standard
// profile fields, then the workspace's custom attributes from "Export
// custom attributes" (GET /custom_attributes), page by page. Blocklisted
// custom attributes are read-only: Braze drops what is written to them.
func (c *Catalog) Fields(ctx context.Context, object string) ([]connector.FieldInfo, error) {
	if object != "" && object != "users" {
		return nil, fmt.Errorf("braze: list %s fields: the object must be users", object)
	}
	fields := append([]connector.FieldInfo(nil), standardAttributes...)
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.Name] = true
	}
	attrs, err := c.customAttributes(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		// A custom attribute named like a profile field cannot be
		// written: /users/track takes the name as the profile field.
		if a.Name == "" || seen[a.Name] {
			continue
		}
		seen[a.Name] = true
		fields = append(fields, connector.FieldInfo{
			Name: a.Name, Type: a.DataType, Label: a.Description,
			ReadOnly: strings.EqualFold(a.Status, "Blocklisted"),
		})
	}
	return fields, nil
}

// customAttributes reads every page of the export, following the cursor
// of the Link header's rel="next" until there is none. The cursor is sent
// to the configured REST endpoint, never to a host a link names, so the
// key goes nowhere else.
func (c *Catalog) customAttributes(ctx context.Context) ([]customAttribute, error) {
	var all []customAttribute
	seen := map[string]bool{}
	cursor := ""
	for range maxAttributePages {
		path := "/custom_attributes"
		if cursor != "" {
			path += "?" + url.Values{"cursor": {cursor}}.Encode()
		}
		var page struct {
			Message    string            `json:"message"`
			Attributes []customAttribute `json:"attributes"`
		}
		h, err := c.api.get(ctx, path, &page)
		if err != nil {
			var re *connector.RequestError
			if errors.As(err, &re) && (re.Status == http.StatusUnauthorized || re.Status == http.StatusForbidden) {
				return nil, fmt.Errorf("braze: list custom attributes: the REST API key was refused; it needs the %s permission: %w", PermissionCustomAttributes, err)
			}
			return nil, fmt.Errorf("braze: list custom attributes: %w", err)
		}
		all = append(all, page.Attributes...)
		next, err := nextCursor(h.Values("Link"))
		if err != nil {
			return nil, fmt.Errorf("braze: list custom attributes: %w", err)
		}
		if next == "" {
			return all, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("braze: list custom attributes: the next page's cursor %q was already read", next)
		}
		seen[next] = true
		cursor = next
	}
	return nil, fmt.Errorf("braze: list custom attributes: more than %d pages", maxAttributePages)
}

// nextCursor is the cursor parameter of the rel="next" link of Link
// headers (RFC 8288: <uri>; rel="next", comma separated), or "" when
// there is no next page.
func nextCursor(links []string) (string, error) {
	for _, header := range links {
		for _, link := range strings.Split(header, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !isNext(params) {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				return "", fmt.Errorf("Link header %q: the next link is not <uri>", header)
			}
			u, err := url.Parse(target[1 : len(target)-1])
			if err != nil {
				return "", fmt.Errorf("Link header %q: %w", header, err)
			}
			cursor := u.Query().Get("cursor")
			if cursor == "" {
				return "", fmt.Errorf("Link header %q: the next link has no cursor", header)
			}
			return cursor, nil
		}
	}
	return "", nil
}

func isNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "rel") {
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(rel, "next") {
					return true
				}
			}
		}
	}
	return false
}

// get sends a GET to a REST endpoint and decodes a 2xx answer into out,
// returning the answer's headers. A non-2xx answer becomes a
// *connector.RequestError, as post's do; so does a 2xx whose message is
// not "success".
func (d *api) get(ctx context.Context, path string, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build GET %s request: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+d.key)
	req.Header.Set("User-Agent", "riptide-braze")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("read GET %s response: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, d.requestError(resp, data)
	}
	var msg struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil, fmt.Errorf("decode GET %s response (status %d): %w", path, resp.StatusCode, err)
	}
	if msg.Message != "" && msg.Message != "success" {
		return nil, &connector.RequestError{Status: resp.StatusCode, Message: msg.Message}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("decode GET %s response (status %d): %w", path, resp.StatusCode, err)
	}
	return resp.Header, nil
}
