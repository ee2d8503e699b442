package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Roles of API tokens, each allowed what the ones before it are.
const (
	RoleViewer = "viewer"
	RoleEditor = "editor"
	RoleAdmin  = "admin"
)

// Roles lists the roles from least to most allowed.
var Roles = []string{RoleViewer, RoleEditor, RoleAdmin}

// RoleAllows reports whether a token of role may do what needs role need.
func RoleAllows(role, need string) bool {
	rank := func(r string) int {
		for i, x := range Roles {
			if x == r {
				return i
			}
		}
		return -1
	}
	return rank(role) >= 0 && rank(role) >= rank(need)
}

// Token is an API token as listed: never the token itself.
type Token struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	// Encrypted reports whether the token's hash is sealed with
	// RIPTIDE_SECRET_KEY.
	Encrypted bool `json:"encrypted"`
}

// tokenPrefix marks Riptide API tokens, so that secret scanners and people
// recognise one.
const tokenPrefix = "rtk_"

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// ErrTokenExists is returned when creating a token under a name in use.
var ErrTokenExists = errors.New("a token with this name exists")

// CheckTokenName says what is wrong with a token name, if anything.
func CheckTokenName(name string) error {
	if !tokenName.MatchString(name) {
		return fmt.Errorf("token name %q: use 1 to 64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// CreateToken makes a token with a name and role and returns it: the only
// time it is seen, since the store keeps a SHA-256 hash of it (sealed with
// the secret box when the store has one). 32 random bytes make a hash
// without salt or stretching safe: there is nothing to guess.
func (s *Store) CreateToken(ctx context.Context, name, role string) (string, error) {
	if err := CheckTokenName(name); err != nil {
		return "", err
	}
	if !RoleAllows(role, RoleViewer) {
		return "", fmt.Errorf("role %q: use one of %s", role, strings.Join(Roles, ", "))
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	stored, err := s.storedHash(hashToken(token))
	if err != nil {
		return "", fmt.Errorf("create token %s: %w", name, err)
	}
	res, err := s.exec(ctx, `INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, role, stored, time.Now().UTC().Format(timeFormat))
	if err != nil {
		return "", fmt.Errorf("create token %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", fmt.Errorf("create token %s: %w (revoke it first)", name, ErrTokenExists)
	}
	return token, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

const (
	plainHashPrefix = "sha256:"
	tokenPurpose    = "api-token-hash"
)

func (s *Store) storedHash(hash string) (string, error) {
	if s.box == nil {
		return plainHashPrefix + hash, nil
	}
	return s.box.Seal(tokenPurpose, []byte(hash))
}

// ErrBadToken is returned for a token the store does not know.
var ErrBadToken = errors.New("unknown or revoked token")

// Authenticate returns the token a presented secret belongs to. Every
// token is compared in constant time; tokens are few, and a sealed hash
// cannot be looked up by value.
func (s *Store) Authenticate(ctx context.Context, presented string) (Token, error) {
	if !strings.HasPrefix(presented, tokenPrefix) {
		return Token{}, ErrBadToken
	}
	want := hashToken(presented)
	rows, err := s.query(ctx, `SELECT name, role, hash, created_at FROM api_tokens`)
	if err != nil {
		return Token{}, fmt.Errorf("check token: %w", err)
	}
	defer rows.Close()
	var found *Token
	for rows.Next() {
		t, stored, err := scanToken(rows)
		if err != nil {
			return Token{}, fmt.Errorf("check token: %w", err)
		}
		have := ""
		switch {
		case strings.HasPrefix(stored, plainHashPrefix):
			have = stored[len(plainHashPrefix):]
		case IsSealed(stored) && s.box != nil:
			// A hash sealed with another key stays unusable rather than
			// failing every request.
			if plain, err := s.box.Open(tokenPurpose, stored); err == nil {
				have = string(plain)
			}
		}
		if have != "" && subtle.ConstantTimeCompare([]byte(have), []byte(want)) == 1 && found == nil {
			found = &t
		}
	}
	if err := rows.Err(); err != nil {
		return Token{}, fmt.Errorf("check token: %w", err)
	}
	if found == nil {
		return Token{}, ErrBadToken
	}
	return *found, nil
}

func scanToken(row interface{ Scan(...any) error }) (Token, string, error) {
	var t Token
	var stored, created string
	if err := row.Scan(&t.Name, &t.Role, &stored, &created); err != nil {
		return t, "", err
	}
	t.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	t.Encrypted = IsSealed(stored)
	return t, stored, nil
}

// Tokens lists the tokens by name.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.query(ctx, `SELECT name, role, hash, created_at FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, _, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken deletes a token; it stops working at once.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	res, err := s.exec(ctx, `DELETE FROM api_tokens WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %q: %w", name, ErrNotFound)
	}
	return nil
}

// Ping checks that the store answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.queryRow(ctx, `SELECT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("state store: %w", err)
	}
	return nil
}
