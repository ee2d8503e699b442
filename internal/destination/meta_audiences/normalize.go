package metaaudiences

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// Schema keys of the multi-key users payload. APPUID and PAGEUID are left
// out: they need app_ids or page_ids beside the payload.
const (
	KeyExternID = "EXTERN_ID"
	KeyEmail    = "EMAIL"
	KeyPhone    = "PHONE"
	KeyGender   = "GEN"
	KeyDOBYear  = "DOBY"
	KeyDOBMonth = "DOBM"
	KeyDOBDay   = "DOBD"
	KeyLastName = "LN"
	KeyFirst    = "FN"
	KeyInitial  = "FI"
	KeyCity     = "CT"
	KeyState    = "ST"
	KeyZip      = "ZIP"
	KeyCountry  = "COUNTRY"
	KeyMADID    = "MADID"
)

// SchemaKeys are the schema keys a mapping may use, in Meta's order.
var SchemaKeys = []string{KeyExternID, KeyEmail, KeyPhone, KeyGender, KeyDOBYear, KeyDOBMonth, KeyDOBDay, KeyLastName, KeyFirst, KeyInitial, KeyCity, KeyState, KeyZip, KeyCountry, KeyMADID}

func isSchemaKey(k string) bool {
	for _, s := range SchemaKeys {
		if s == k {
			return true
		}
	}
	return false
}

// hashed reports whether Meta wants a key's values SHA-256 hashed: all
// but the advertiser's own id and mobile advertiser ids.
func hashed(key string) bool { return key != KeyExternID && key != KeyMADID }

// IsSHA256 reports whether s already is a SHA-256 digest in hex.
func IsSHA256(s string) bool {
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

// Hash is the SHA-256 of s in lowercase hex.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Entry turns a raw value into what the payload carries for key: the
// value normalised per Meta's rules and hashed (unless the key is not
// hashed, or the value already is a SHA-256 digest). It returns "" and a
// reason when nothing usable is left.
func Entry(key, raw string) (string, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", ""
	}
	if hashed(key) && IsSHA256(raw) {
		return strings.ToLower(raw), ""
	}
	v, why := Normalize(key, raw)
	if v == "" {
		return "", why
	}
	if hashed(key) {
		return Hash(v), ""
	}
	return v, ""
}

// Normalize applies Meta's normalisation rules for a schema key to a raw
// value, before hashing. It returns "" and a reason when the value cannot
// be used.
func Normalize(key, raw string) (string, string) {
	s := strings.TrimSpace(raw)
	switch key {
	case KeyEmail:
		s = strings.ToLower(s)
		if i := strings.IndexByte(s, '@'); i <= 0 || i == len(s)-1 || strings.ContainsAny(s, " \t") {
			return "", "EMAIL " + quote(raw) + " is not an email address"
		}
		return s, ""
	case KeyPhone:
		// Digits only, leading zeros (trunk or international prefixes)
		// dropped; the number must already carry its country code.
		s = strings.TrimLeft(keep(s, unicode.IsDigit), "0")
		if len(s) < 7 || len(s) > 15 {
			return "", "PHONE " + quote(raw) + " does not have 7 to 15 digits with the country code"
		}
		return s, ""
	case KeyFirst, KeyLastName, KeyCity:
		s = keep(strings.ToLower(s), unicode.IsLetter)
		if s == "" {
			return "", key + " " + quote(raw) + " has no letters"
		}
		return s, ""
	case KeyInitial:
		s = keep(strings.ToLower(s), unicode.IsLetter)
		if s == "" {
			return "", "FI " + quote(raw) + " has no letter"
		}
		return string([]rune(s)[:1]), ""
	case KeyState:
		s = keep(strings.ToLower(s), func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
		if s == "" {
			return "", "ST " + quote(raw) + " is empty after normalisation"
		}
		return s, ""
	case KeyZip:
		s = keep(strings.ToLower(s), func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
		// A US ZIP+4 keeps its first five digits only.
		if len(s) == 9 && keep(s, unicode.IsDigit) == s && strings.Contains(raw, "-") {
			s = s[:5]
		}
		if s == "" {
			return "", "ZIP " + quote(raw) + " is empty after normalisation"
		}
		return s, ""
	case KeyCountry:
		s = keep(strings.ToLower(s), unicode.IsLetter)
		if len(s) != 2 {
			return "", "COUNTRY " + quote(raw) + " is not a two-letter ISO 3166-1 code"
		}
		return s, ""
	case KeyGender:
		s = strings.ToLower(s)
		switch s {
		case "m", "male":
			return "m", ""
		case "f", "female":
			return "f", ""
		}
		return "", "GEN " + quote(raw) + " is not m or f"
	case KeyDOBYear:
		if len(s) != 4 || keep(s, unicode.IsDigit) != s {
			return "", "DOBY " + quote(raw) + " is not a four-digit year"
		}
		return s, ""
	case KeyDOBMonth, KeyDOBDay:
		d := strings.TrimLeft(s, "0")
		limit := 12
		if key == KeyDOBDay {
			limit = 31
		}
		n := 0
		for _, r := range d {
			if r < '0' || r > '9' {
				n = -1
				break
			}
			n = n*10 + int(r-'0')
		}
		if n < 1 || n > limit || len(s) > 2 {
			return "", key + " " + quote(raw) + " is not a number from 01 to " + itoa2(limit)
		}
		return itoa2(n), ""
	case KeyMADID:
		return strings.ToLower(s), ""
	case KeyExternID:
		return s, ""
	}
	return "", "unknown schema key " + key
}

func keep(s string, f func(rune) bool) string {
	return strings.Map(func(r rune) rune {
		if f(r) {
			return r
		}
		return -1
	}, s)
}

func itoa2(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}

// identifying reports whether a row's entries can identify a person on
// their own: an email, phone, mobile advertiser id or external id, or a
// first and last name together.
func identifying(entries map[string]string) bool {
	for _, k := range []string{KeyEmail, KeyPhone, KeyMADID, KeyExternID} {
		if entries[k] != "" {
			return true
		}
	}
	return entries[KeyFirst] != "" && entries[KeyLastName] != ""
}
