package telemetry

import (
	"context"
	"strings"
	"testing"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestStart(t *testing.T) {
	cases := []struct {
		name     string
		endpoint string
		env      map[string]string
		on       bool
		err      string
	}{
		{name: "nothing configured is off"},
		{name: "base endpoint", env: map[string]string{envEndpoint: "http://127.0.0.1:4318"}, on: true},
		{name: "traces endpoint", env: map[string]string{envTracesEndpoint: "http://127.0.0.1:4318/v1/traces"}, on: true},
		{name: "flag", endpoint: "http://127.0.0.1:4318", on: true},
		{name: "disabled SDK", env: map[string]string{envEndpoint: "http://127.0.0.1:4318", envSDKDisabled: "true"}},
		{name: "no traces exporter", env: map[string]string{envEndpoint: "http://127.0.0.1:4318", envTracesExporter: "none"}},
		{name: "explicit http/protobuf", env: map[string]string{envEndpoint: "http://127.0.0.1:4318", envProtocol: "http/protobuf"}, on: true},
		{name: "grpc refused", env: map[string]string{envEndpoint: "http://127.0.0.1:4317", envTracesProtocol: "grpc"},
			err: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc": riptide exports traces over OTLP/HTTP only`},
		{name: "flag without scheme", endpoint: "127.0.0.1:4318", err: `--otlp-endpoint "127.0.0.1:4318": want an http:// or https:// URL`},
		{name: "bad env endpoint", env: map[string]string{envEndpoint: "collector"}, err: `OTEL_EXPORTER_OTLP_ENDPOINT "collector": want an http://`},
		{name: "credentials kept out", endpoint: "https://user:hunter2@otel.example.com", err: `(a URL with credentials)": credentials in the URL are not sent`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := Start(context.Background(), Config{Endpoint: c.endpoint, Getenv: env(c.env)})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want one containing %q", err, c.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %q shows the endpoint's password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			if tr.Enabled() != c.on {
				t.Fatalf("enabled = %v, want %v", tr.Enabled(), c.on)
			}
			if (tr.Runs() != nil) != c.on {
				t.Fatalf("Runs() = %v, want a tracer only when on", tr.Runs())
			}
		})
	}
}
