package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
)

// oauthApp holds a public app's credentials and the access token they
// currently yield, shared by all of a run's concurrent Writes.
type oauthApp struct {
	// client is a plain client, not the run's logged one: the token
	// request's form and answer carry the client secret and tokens.
	client   *http.Client
	tokenURL string
	clientID string
	secret   string
	now      func() time.Time

	mu      sync.Mutex
	refresh string
	token   string
	renewAt time.Time // a little before the token expires
}

// current returns the access token, exchanging the refresh token first
// when there is none yet or it is about to expire.
func (a *oauthApp) current(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == "" || !a.now().Before(a.renewAt) {
		if err := a.exchange(ctx); err != nil {
			return "", err
		}
	}
	return a.token, nil
}

// renew replaces an access token HubSpot called expired, unless a
// concurrent Write already did.
func (a *oauthApp) renew(ctx context.Context, stale string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != stale {
		return nil
	}
	return a.exchange(ctx)
}

// exchange trades the refresh token for an access token at
// POST /oauth/v1/token; a.mu is held.
func (a *oauthApp) exchange(ctx context.Context) error {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {a.clientID},
		"client_secret": {a.secret},
		"refresh_token": {a.refresh},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("hubspot: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "riptide-hubspot")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("hubspot: request access token: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("hubspot: read token response: %w", err)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
		Status       string `json:"status"`
		Message      string `json:"message"`
	}
	_ = json.Unmarshal(data, &tok)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return connector.ClassifyHTTP(resp.StatusCode, []byte("hubspot token request: "+strings.TrimSpace(string(data))), retryAfter(resp.Header))
	}
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		// BAD_REFRESH_TOKEN, BAD_CLIENT_ID…: the app was uninstalled or
		// the credentials are wrong, which no retry mends.
		msg := strings.TrimSpace(tok.Status + ": " + tok.Message)
		if tok.Message == "" {
			msg = strings.TrimSpace(string(data))
		}
		return &connector.RequestError{Status: resp.StatusCode, Auth: true, Message: "hubspot token request refused: " + msg}
	}
	a.token = tok.AccessToken
	if tok.RefreshToken != "" {
		a.refresh = tok.RefreshToken
	}
	// Renew a minute early, or a quarter of the lifetime for short-lived
	// tokens, so a request is not sent with a token expiring in flight.
	life := time.Duration(tok.ExpiresIn) * time.Second
	a.renewAt = a.now().Add(life - min(time.Minute, life/4))
	return nil
}

// expiredToken reports whether a 401 answer is HubSpot's expired OAuth
// token error, the one a refresh mends.
func expiredToken(status int, data []byte) bool {
	if status != http.StatusUnauthorized {
		return false
	}
	var e apiError
	if json.Unmarshal(data, &e) != nil {
		return false
	}
	return e.Category == "EXPIRED_AUTHENTICATION" || strings.Contains(strings.ToLower(e.Message), "token used to make this call expired")
}
