package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SecretKeyEnv names the environment variable holding the key that
// encrypts secrets at rest in the state store.
const SecretKeyEnv = "RIPTIDE_SECRET_KEY"

// SecretBox encrypts values kept in the state store with AES-256-GCM. Each
// value gets a fresh random nonce, so equal values do not look equal on
// disk; the value's purpose is bound in as additional data, so a sealed
// value copied into another column does not open.
type SecretBox struct {
	aead cipher.AEAD
}

// NewSecretBox builds a box from a key as RIPTIDE_SECRET_KEY holds it: 32
// bytes written as 64 hex digits or as standard base64. Anything else is
// refused rather than stretched, so that a short passphrase is not
// mistaken for a key.
func NewSecretBox(key string) (*SecretBox, error) {
	key = strings.TrimSpace(key)
	raw, err := hex.DecodeString(key)
	if err != nil || len(raw) != 32 {
		raw, err = base64.StdEncoding.DecodeString(key)
	}
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%s must be 32 bytes written as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)", SecretKeyEnv)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &SecretBox{aead: aead}, nil
}

// sealedPrefix marks an encrypted value; the digits after "v" version the
// format.
const sealedPrefix = "gcm1:"

// Seal encrypts plaintext for the given purpose.
func (b *SecretBox) Seal(purpose string, plaintext []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(purpose))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// ErrWrongKey is returned when a sealed value does not open: the key
// differs from the one it was sealed with, or the value was altered.
var ErrWrongKey = errors.New("sealed value does not open with " + SecretKeyEnv + " (a different key, or altered)")

// Open decrypts a value Seal returned for the same purpose.
func (b *SecretBox) Open(purpose, sealed string) ([]byte, error) {
	if !strings.HasPrefix(sealed, sealedPrefix) {
		return nil, errors.New("open secret: not a sealed value")
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(sealedPrefix):])
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, ErrWrongKey
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(purpose))
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}

// IsSealed reports whether a stored value was encrypted by a SecretBox.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// UseSecretBox makes the store encrypt the secrets it keeps (API token
// hashes) with b. Without a box they are kept as SHA-256 hashes only.
func (s *Store) UseSecretBox(b *SecretBox) { s.box = b }
