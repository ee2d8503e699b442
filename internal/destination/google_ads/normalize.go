package googleads

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// Mapping fields a sync may use.
const (
	FieldEmail       = "email"
	FieldPhone       = "phone"
	FieldFirstName   = "first_name"
	FieldLastName    = "last_name"
	FieldCountryCode = "country_code"
	FieldPostalCode  = "postal_code"
	// Already-hashed values, sent as given (trimmed, lower case): Google
	// itself refuses a malformed digest, row by row.
	FieldHashedEmail = "hashed_email"
	FieldHashedPhone = "hashed_phone_number"
)

// Fields are the mapping fields, in the order identifiers are sent.
var Fields = []string{FieldEmail, FieldHashedEmail, FieldPhone, FieldHashedPhone, FieldFirstName, FieldLastName, FieldCountryCode, FieldPostalCode}

// keyFields can hold a model's primary key, so a removed row can be
// addressed by its key alone.
var keyFields = []string{FieldEmail, FieldHashedEmail, FieldPhone, FieldHashedPhone}

// Hash is the SHA-256 of s in lowercase hex.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// isSHA256 reports whether s already is a SHA-256 digest in hex.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}

// NormalizeEmail applies Customer Match's email rules: surrounding
// whitespace removed, lower case. It returns "" and a reason when the
// value is no email address.
func NormalizeEmail(raw string) (string, string) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if i := strings.IndexByte(s, '@'); i <= 0 || i == len(s)-1 || strings.IndexFunc(s, unicode.IsSpace) >= 0 || strings.Count(s, "@") != 1 {
		return "", "email " + quote(raw) + " is not an email address"
	}
	return s, ""
}

// NormalizePhone applies Customer Match's phone rule: E.164, a '+' then
// the country code and number, 15 digits at most. Spaces, dashes, dots
// and parentheses are dropped; a leading 00 counts as the international
// prefix. A number without its country code cannot be completed and is
// refused.
func NormalizePhone(raw string) (string, string) {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") {
		return "", "phone " + quote(raw) + " lacks the country code: want E.164 like +15550100000"
	}
	d := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
			return -1
		}
		return 'x'
	}, s[1:])
	if strings.Contains(d, "x") || len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", "phone " + quote(raw) + " is not an E.164 number (a country code and 8 to 15 digits)"
	}
	return "+" + d, ""
}

// NormalizeName applies Customer Match's name rules: surrounding
// whitespace removed, lower case.
func NormalizeName(raw string) string { return strings.ToLower(strings.TrimSpace(raw)) }

// NormalizeCountry is a two-letter ISO 3166-1 code in upper case; Google
// takes it unhashed.
func NormalizeCountry(raw string) (string, string) {
	s := strings.ToUpper(strings.TrimSpace(raw))
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return "", "country_code " + quote(raw) + " is not a two-letter ISO 3166-1 code"
	}
	return s, ""
}

// hashedEmail is the hashedEmail of a raw or already-hashed email.
func hashedEmail(raw string) (string, string) {
	if isSHA256(strings.TrimSpace(raw)) {
		return strings.ToLower(strings.TrimSpace(raw)), ""
	}
	e, why := NormalizeEmail(raw)
	if e == "" {
		return "", why
	}
	return Hash(e), ""
}

// hashedPhone is the hashedPhoneNumber of a raw or already-hashed number.
func hashedPhone(raw string) (string, string) {
	if isSHA256(strings.TrimSpace(raw)) {
		return strings.ToLower(strings.TrimSpace(raw)), ""
	}
	p, why := NormalizePhone(raw)
	if p == "" {
		return "", why
	}
	return Hash(p), ""
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}
