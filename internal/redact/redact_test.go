package redact_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/riptide-data/riptide/internal/redact"
)

func TestString(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"nothing to mask", []string{"hunter22"}, "all quiet", "all quiet"},
		{"a secret", []string{"hunter22"}, "token hunter22 refused", "token **** refused"},
		{"every occurrence", []string{"hunter22"}, "hunter22/hunter22", "****/****"},
		{"several secrets", []string{"hunter22", "s3cr3t-key"}, "a=hunter22 b=s3cr3t-key", "a=**** b=****"},
		{"four characters are a secret", []string{"abcd"}, "x abcd y", "x **** y"},
		{"shorter ones are ignored", []string{"abc", "x", ""}, "abc x abcx", "abc x abcx"},
		{"duplicates", []string{"hunter22", "hunter22"}, "hunter22", "****"},
		{"longest first", []string{"pass", "password123"}, "password123 pass", "**** ****"},
		{"longest first, whatever the order given", []string{"password123", "pass"}, "password123 pass", "**** ****"},
		{"containing another", []string{"key-", "my-key-1"}, "my-key-1", "****"},
		{"query-escaped form", []string{"p@ss w/rd"}, "dsn?password=p%40ss+w%2Frd&x=1", "dsn?password=****&x=1"},
		{"path-escaped form", []string{"p@ss w/rd"}, "user:p@ss%20w%2Frd@", "user:****@"},
		{"plain form of a secret with escapes", []string{"p@ss w/rd"}, "said p@ss w/rd", "said ****"},
		{"no secrets", nil, "hunter22", "hunter22"},

		// URL passwords are masked whether or not they are registered.
		{"URL password", nil, "postgres://u:p@h/db", "postgres://u:****@h/db"},
		{"URL password inside text", nil, `dial "postgres://app:pw123@db.internal:5432/app?sslmode=require": refused`,
			`dial "postgres://app:****@db.internal:5432/app?sslmode=require": refused`},
		{"two URLs", nil, "mysql://a:one@h1/x and https://b:two@h2/y", "mysql://a:****@h1/x and https://b:****@h2/y"},
		{"escaped URL password", nil, "postgres://u:p%40ss%2Fx@h/db", "postgres://u:****@h/db"},
		{"URL password with a raw @", nil, "postgres://admin:P@ssw0rd@db:5432/app", "postgres://admin:****@db:5432/app"},
		{"URL password with raw @s and a query @", nil, "postgres://u:a@b@c@h/db?mail=x@y", "postgres://u:****@h/db?mail=x@y"},
		{"URL without a user", nil, "https://example.com:8443/path", "https://example.com:8443/path"},
		{"URL with a user but no password", nil, "postgres://u@h/db", "postgres://u@h/db"},
		{"URL with an empty user", nil, "redis://:s3cret@cache:6379", "redis://:****@cache:6379"},
		{"scheme with plus", nil, "postgresql+psycopg://u:pw@h/db", "postgresql+psycopg://u:****@h/db"},
		{"registered secret inside a URL", []string{"hunter22"}, "postgres://u:hunter22@h/db", "postgres://u:****@h/db"},
		{"email address is no URL", nil, "mail ada:lovelace@example.com", "mail ada:lovelace@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := redact.New(tt.secrets)
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := r.Error(errors.New(tt.in)); got != tt.want {
				t.Errorf("Error(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// The zero Redactor, and a nil one, mask URL passwords only.
func TestZeroRedactor(t *testing.T) {
	in := "hunter22 postgres://u:p@h/db"
	want := "hunter22 postgres://u:****@h/db"
	var zero redact.Redactor
	if got := zero.String(in); got != want {
		t.Errorf("zero String = %q, want %q", got, want)
	}
	var nilR *redact.Redactor
	if got := nilR.String(in); got != want {
		t.Errorf("nil String = %q, want %q", got, want)
	}
	if got := nilR.Error(errors.New(in)); got != want {
		t.Errorf("nil Error = %q, want %q", got, want)
	}
}

func TestError(t *testing.T) {
	r := redact.New([]string{"hunter22"})
	if got := r.Error(nil); got != "" {
		t.Errorf("Error(nil) = %q, want empty", got)
	}
	err := fmt.Errorf("connect: %w", errors.New("password hunter22 rejected"))
	if got, want := r.Error(err), "connect: password **** rejected"; got != want {
		t.Errorf("Error = %q, want %q", got, want)
	}
}

func TestURLPassword(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"postgres://u:p@h/db", "p"},
		{"postgres://u:p%40ss%2Fx@h:5432/db?sslmode=disable", "p@ss/x"},
		{"postgres://admin:P@ssw0rd@db:5432/app", "P@ssw0rd"},
		{"redis://:s3cret@cache:6379/0", "s3cret"},
		{"postgres://u@h/db", ""},
		{"postgres://u:@h/db", ""},
		{"postgres://h/db", ""},
		{"duckdb:///tmp/x.db", ""},
		{"just text", ""},
		{"", ""},
		{"://u:p@h", ""}, // does not parse
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := redact.URLPassword(tt.in); got != tt.want {
				t.Errorf("URLPassword(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// secretValue is a slog.LogValuer that resolves to a secret.
type secretValue struct{}

func (secretValue) LogValue() slog.Value { return slog.StringValue("hunter22") }

// stringer prints a secret through fmt.
type stringer struct{}

func (stringer) String() string { return "conn hunter22" }

func TestHandler(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{
			name: "message",
			log:  func(l *slog.Logger) { l.Info("login with hunter22 to postgres://u:pw@h/db") },
			want: `level=INFO msg="login with **** to postgres://u:****@h/db"`,
		},
		{
			name: "string attrs",
			log: func(l *slog.Logger) {
				l.Info("m", "token", "hunter22", slog.String("dsn", "mysql://a:b1@h/x"), "user", "ada")
			},
			want: `level=INFO msg=m token=**** dsn=mysql://a:****@h/x user=ada`,
		},
		{
			name: "error attrs",
			log: func(l *slog.Logger) {
				l.Error("failed", "err", errors.New("auth hunter22 refused"), slog.Any("cause", fmt.Errorf("dial postgres://u:x@h: %w", errors.New("eof"))))
			},
			want: `level=ERROR msg=failed err="auth **** refused" cause="dial postgres://u:****@h: eof"`,
		},
		{
			name: "other values pass through",
			log:  func(l *slog.Logger) { l.Info("m", "n", 5432, "ok", true, "f", 1.5) },
			want: `level=INFO msg=m n=5432 ok=true f=1.5`,
		},
		{
			name: "any values",
			log:  func(l *slog.Logger) { l.Info("m", "s", stringer{}, "list", []string{"a", "hunter22"}) },
			want: `level=INFO msg=m s="conn ****" list="[a ****]"`,
		},
		{
			name: "log valuer",
			log:  func(l *slog.Logger) { l.Info("m", "v", secretValue{}) },
			want: `level=INFO msg=m v=****`,
		},
		{
			name: "group attrs",
			log: func(l *slog.Logger) {
				l.Info("m", slog.Group("db", slog.String("password", "hunter22"), slog.Int("port", 5432),
					slog.Group("inner", slog.Any("err", errors.New("bad hunter22")))))
			},
			want: `level=INFO msg=m db.password=**** db.port=5432 db.inner.err="bad ****"`,
		},
		{
			name: "with attrs",
			log: func(l *slog.Logger) {
				l.With("conn", "hunter22", slog.Group("g", slog.String("k", "xhunter22x"))).Info("m", "a", "b")
			},
			want: `level=INFO msg=m conn=**** g.k=x****x a=b`,
		},
		{
			name: "with group",
			log: func(l *slog.Logger) {
				l.WithGroup("req").With("auth", "hunter22").Info("m", "dsn", "postgres://u:pw@h/db")
			},
			want: `level=INFO msg=m req.auth=**** req.dsn=postgres://u:****@h/db`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			text := slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey && len(groups) == 0 {
						return slog.Attr{}
					}
					return a
				},
			})
			tt.log(slog.New(redact.NewHandler(text, redact.New([]string{"hunter22"}))))
			got := strings.TrimSuffix(buf.String(), "\n")
			if got != tt.want {
				t.Errorf("logged\n  %s\nwant\n  %s", got, tt.want)
			}
			if strings.Contains(got, "hunter22") {
				t.Errorf("the secret was logged: %s", got)
			}
		})
	}
}

func TestHandlerEnabled(t *testing.T) {
	var buf bytes.Buffer
	text := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	h := redact.NewHandler(text, redact.New(nil))
	ctx := context.Background()
	if h.Enabled(ctx, slog.LevelInfo) {
		t.Error("Info enabled under a Warn handler")
	}
	if !h.Enabled(ctx, slog.LevelError) {
		t.Error("Error not enabled under a Warn handler")
	}
	slog.New(h).Info("dropped")
	if buf.Len() != 0 {
		t.Errorf("a disabled level was written: %s", buf.String())
	}
}
