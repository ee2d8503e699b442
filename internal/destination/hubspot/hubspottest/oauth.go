package hubspottest

import (
	"fmt"
	"net/http"
	"time"
)

// Default OAuth app credentials the emulator accepts unless WithOAuthApp
// sets others.
const (
	DefaultClientID     = "riptide-test-client"
	DefaultClientSecret = "riptide-test-secret"
	DefaultRefreshToken = "riptide-test-refresh"
)

// WithOAuthApp sets the public app's client id and secret and the refresh
// token the token endpoint accepts.
func WithOAuthApp(clientID, clientSecret, refreshToken string) Option {
	return func(s *Server) { s.clientID, s.clientSecret, s.refreshToken = clientID, clientSecret, refreshToken }
}

// WithTokenTTL sets the lifetime of the access tokens the token endpoint
// issues (HubSpot's is 30 minutes); expiry is judged by WithClock's clock.
func WithTokenTTL(ttl time.Duration) Option { return func(s *Server) { s.tokenTTL = ttl } }

// OAuthApp returns the client id, client secret and refresh token the
// token endpoint accepts.
func (s *Server) OAuthApp() (clientID, clientSecret, refreshToken string) {
	return s.clientID, s.clientSecret, s.refreshToken
}

// TokenRequests is the number of requests to the token endpoint, refused
// ones included; they are not counted by Requests.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// issueToken answers POST /oauth/v1/token with the refresh_token grant:
// form-encoded client_id, client_secret and refresh_token in, a new
// short-lived access token out. s.mu is held.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests++
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, tokenError{Status: "BAD_REQUEST", Message: "unreadable form: " + err.Error()})
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "refresh_token":
		writeJSON(w, http.StatusBadRequest, tokenError{Status: "BAD_GRANT_TYPE", Message: "unsupported grant_type " + f.Get("grant_type")})
	case f.Get("client_id") != s.clientID:
		writeJSON(w, http.StatusBadRequest, tokenError{Status: "BAD_CLIENT_ID", Message: "missing or unknown client id"})
	case f.Get("client_secret") != s.clientSecret:
		writeJSON(w, http.StatusBadRequest, tokenError{Status: "BAD_CLIENT_SECRET", Message: "missing or invalid client secret"})
	case f.Get("refresh_token") != s.refreshToken || s.revoked:
		writeJSON(w, http.StatusBadRequest, tokenError{Status: "BAD_REFRESH_TOKEN", Message: "missing or unknown refresh token"})
	default:
		s.issued++
		token := fmt.Sprintf("oauth-na1-%08d", s.issued)
		s.tokens[token] = s.now().Add(s.tokenTTL)
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token":  token,
			"refresh_token": s.refreshToken,
			"expires_in":    int(s.tokenTTL / time.Second),
			"token_type":    "bearer",
		})
	}
}

type tokenError struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId,omitempty"`
}

// authenticate checks a data request's bearer token, answering 401 with
// INVALID_AUTHENTICATION for an unknown token and EXPIRED_AUTHENTICATION
// for an OAuth token past its lifetime. s.mu is held.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	bearer := r.Header.Get("Authorization")
	token, ok := cutBearer(bearer)
	if ok && !s.revoked {
		if token == s.token {
			return true
		}
		if exp, known := s.tokens[token]; known {
			if s.now().Before(exp) {
				return true
			}
			s.writeError(w, http.StatusUnauthorized, apiError{
				Message:  "The OAuth token used to make this call expired " + s.now().Sub(exp).Round(time.Millisecond).String() + " ago.",
				Category: "EXPIRED_AUTHENTICATION",
			})
			return false
		}
	}
	s.writeError(w, http.StatusUnauthorized, apiError{
		Message:  "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
		Category: "INVALID_AUTHENTICATION",
	})
	return false
}

func cutBearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) <= len(p) || h[:len(p)] != p {
		return "", false
	}
	return h[len(p):], true
}
