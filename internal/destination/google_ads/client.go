package googleads

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/riptide-data/riptide/internal/connector"
	"github.com/riptide-data/riptide/internal/destination/httplog"
)

const maxResponse = 8 << 20

// googleError is the Google Ads API's error body (google.rpc.Status with
// GoogleAdsFailure details).
type googleError struct {
	Error struct {
		Code    int       `json:"code"`
		Message string    `json:"message"`
		Status  string    `json:"status"`
		Details []failure `json:"details"`
	} `json:"error"`
}

// failure is one GoogleAdsFailure.
type failure struct {
	Type   string `json:"@type"`
	Errors []struct {
		ErrorCode map[string]string `json:"errorCode"`
		Message   string            `json:"message"`
		Location  struct {
			FieldPathElements []struct {
				FieldName string `json:"fieldName"`
				Index     *int   `json:"index"`
			} `json:"fieldPathElements"`
		} `json:"location"`
	} `json:"errors"`
	RequestID string `json:"requestId"`
}

// accessToken returns a valid access token, exchanging the refresh token
// when none is held or the held one expires within a minute.
func (c *client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.expires.Add(-time.Minute)) {
		return c.token, nil
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {c.clientID}, "client_secret": {c.secret}, "refresh_token": {c.refresh}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("google_ads: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.auth.Do(req)
	if err != nil {
		return "", fmt.Errorf("google_ads: exchange refresh token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", fmt.Errorf("google_ads: read token response: %w", err)
	}
	var ans struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &ans)
	if resp.StatusCode != http.StatusOK || ans.AccessToken == "" {
		re := connector.ClassifyHTTP(resp.StatusCode, nil, httplog.RetryAfter(resp.Header, c.now()))
		re.Message = fmt.Sprintf("authentication failed: token endpoint refused the refresh token: %s %s", ans.Error, ans.Description)
		// invalid_grant, invalid_client and friends: the credentials are
		// wrong or revoked; retrying cannot help.
		if resp.StatusCode == 400 || resp.StatusCode == 401 || resp.StatusCode == 403 {
			re.Auth, re.Retryable = true, false
		}
		return "", re
	}
	c.token = ans.AccessToken
	c.expires = c.now().Add(time.Duration(ans.ExpiresIn) * time.Second)
	return c.token, nil
}

// call POSTs a JSON body to an API path and decodes the answer into out.
func (c *client) call(ctx context.Context, path string, in, out any) error {
	token, err := c.accessToken(ctx)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("google_ads: encode %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+c.version+"/"+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("google_ads: build %s request: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("developer-token", c.developer)
	if c.login != "" {
		req.Header.Set("login-customer-id", c.login)
	}
	resp, err := c.api.Do(req)
	if err != nil {
		return fmt.Errorf("google_ads: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("google_ads: read %s response: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode == http.StatusUnauthorized {
			// The token may have been revoked early: fetch a new one next time.
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
		}
		return c.requestError(resp.StatusCode, body, resp.Header)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("google_ads: decode %s response (status %d): %w", path, resp.StatusCode, err)
	}
	return nil
}

// createJob creates a Customer Match job for the sync's user list and
// returns its resource name.
func (d *Destination) createJob(ctx context.Context) (string, error) {
	in := map[string]any{"job": map[string]any{
		"type":                          "CUSTOMER_MATCH_USER_LIST",
		"customerMatchUserListMetadata": map[string]any{"userList": d.userList},
	}}
	var out struct {
		ResourceName string `json:"resourceName"`
	}
	if err := d.call(ctx, "customers/"+d.customer+"/offlineUserDataJobs:create", in, &out); err != nil {
		return "", err
	}
	if out.ResourceName == "" {
		return "", fmt.Errorf("google_ads: offlineUserDataJobs:create answered without a resourceName")
	}
	return out.ResourceName, nil
}

// addOperations adds the operations to the job with partial failure on,
// and returns the messages of the operations Google refused, by index.
func (d *Destination) addOperations(ctx context.Context, job string, ops []operation) (map[int]string, error) {
	in := map[string]any{"enablePartialFailure": true, "operations": ops}
	var out struct {
		PartialFailureError *struct {
			Code    int       `json:"code"`
			Message string    `json:"message"`
			Details []failure `json:"details"`
		} `json:"partialFailureError"`
	}
	if err := d.call(ctx, job+":addOperations", in, &out); err != nil {
		return nil, err
	}
	refused := map[int]string{}
	pf := out.PartialFailureError
	if pf == nil || pf.Code == 0 {
		return refused, nil
	}
	for _, f := range pf.Details {
		for _, e := range f.Errors {
			i := operationIndex(e.Location.FieldPathElements)
			if i < 0 {
				continue
			}
			msg := "google ads refused the operation: " + e.Message
			if code := errorCode(e.ErrorCode); code != "" {
				msg += " (" + code + ")"
			}
			if prev, ok := refused[i]; ok {
				msg = prev + "; " + msg
			}
			refused[i] = msg
		}
	}
	if len(refused) == 0 {
		// Failures that name no operation cannot be tied to a row.
		return nil, &connector.RequestError{Status: 200, Message: "partial failure naming no operation: " + pf.Message}
	}
	return refused, nil
}

func operationIndex(path []struct {
	FieldName string `json:"fieldName"`
	Index     *int   `json:"index"`
}) int {
	for _, p := range path {
		if p.FieldName == "operations" && p.Index != nil {
			return *p.Index
		}
	}
	return -1
}

func errorCode(m map[string]string) string {
	for k, v := range m {
		return k + "." + v
	}
	return ""
}

// runJob starts the job; Google applies its operations asynchronously.
func (d *Destination) runJob(ctx context.Context, job string) error {
	var out struct {
		Name string `json:"name"`
	}
	return d.call(ctx, job+":run", map[string]any{}, &out)
}

// requestError classifies a refused call by the google.rpc status, which
// says more than the HTTP status: UNAUTHENTICATED and PERMISSION_DENIED
// stop the run, RESOURCE_EXHAUSTED, UNAVAILABLE and other 5xx are
// retried, anything else (INVALID_ARGUMENT) is the batch's fault.
func (c *client) requestError(status int, body []byte, h http.Header) *connector.RequestError {
	wait := httplog.RetryAfter(h, c.now())
	var g googleError
	if json.Unmarshal(body, &g) != nil || g.Error.Status == "" && g.Error.Message == "" {
		return connector.ClassifyHTTP(status, body, wait)
	}
	e := g.Error
	msg := e.Message
	if e.Status != "" {
		msg = e.Status + ": " + msg
	}
	var codes []string
	for _, f := range e.Details {
		for _, fe := range f.Errors {
			if c := errorCode(fe.ErrorCode); c != "" {
				codes = append(codes, c+" "+fe.Message)
			}
		}
		if f.RequestID != "" {
			msg += " (request " + f.RequestID + ")"
		}
	}
	if len(codes) > 0 {
		msg += ": " + strings.Join(codes, "; ")
	}
	re := &connector.RequestError{Status: status, Message: msg}
	switch {
	case e.Status == "UNAUTHENTICATED" || e.Status == "PERMISSION_DENIED" || status == 401 || status == 403:
		re.Auth = true
	case e.Status == "RESOURCE_EXHAUSTED" || e.Status == "UNAVAILABLE" || e.Status == "DEADLINE_EXCEEDED" || e.Status == "ABORTED" || status == 429 || status >= 500:
		re.Retryable = true
		re.RetryAfter = wait
	}
	return re
}
