// Package telemetry traces runs with OpenTelemetry: a span per sync run,
// child spans for its phases and for each request its destination made,
// exported over OTLP/HTTP when an endpoint is configured (the standard
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// variables, or a flag). Without one, tracing is off and costs nothing:
// the engine is given no tracer at all.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/riptide-data/riptide/internal/engine"
)

// Config says where traces go.
type Config struct {
	// Endpoint is the OTLP/HTTP base URL (as OTEL_EXPORTER_OTLP_ENDPOINT:
	// /v1/traces is appended); it overrides the environment. Empty: the
	// environment decides.
	Endpoint string
	// Logger receives export failures (default: discarded).
	Logger *slog.Logger
	// Getenv reads the environment (default os.Getenv; tests).
	Getenv func(string) string
}

// Tracing is the process's tracing: on when an endpoint is configured.
type Tracing struct {
	provider *sdktrace.TracerProvider // nil: off
}

// Environment variables of the OpenTelemetry specification that decide
// whether traces are exported and where.
const (
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envSDKDisabled    = "OTEL_SDK_DISABLED"
	envTracesExporter = "OTEL_TRACES_EXPORTER"
)

// Start sets up tracing from cfg and the environment. With no endpoint,
// or with the SDK disabled (OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none),
// it returns Tracing that is off. The other OTEL_EXPORTER_OTLP_* settings
// (headers, timeout, compression, certificates) and OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER apply as the SDK reads
// them.
func Start(ctx context.Context, cfg Config) (*Tracing, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.EqualFold(strings.TrimSpace(getenv(envSDKDisabled)), "true") ||
		strings.EqualFold(strings.TrimSpace(getenv(envTracesExporter)), "none") {
		return &Tracing{}, nil
	}
	var opts []otlptracehttp.Option
	switch {
	case cfg.Endpoint != "":
		u, err := checkEndpoint("--otlp-endpoint", cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	case getenv(envTracesEndpoint) != "":
		if _, err := checkEndpoint(envTracesEndpoint, getenv(envTracesEndpoint)); err != nil {
			return nil, err
		}
	case getenv(envEndpoint) != "":
		if _, err := checkEndpoint(envEndpoint, getenv(envEndpoint)); err != nil {
			return nil, err
		}
	default:
		return &Tracing{}, nil
	}
	for _, name := range []string{envTracesProtocol, envProtocol} {
		if p := getenv(name); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s=%q: riptide exports traces over OTLP/HTTP only; use http/protobuf", name, p)
			}
			break
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The SDK reports failed exports through the global handler; without
	// one it would write them to the standard logger, unstructured.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("export traces", "error", err)
	}))
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("set up trace export: %w", err)
	}
	// Later options win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// may rename the service.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "riptide")),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("set up trace export: resource: %w", err)
	}
	return &Tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// checkEndpoint refuses what the exporter could only fail on later, with
// less to say about it.
func checkEndpoint(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s %q: want an http:// or https:// URL with a host, such as http://127.0.0.1:4318", name, redactURL(raw))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s %q: credentials in the URL are not sent; set them with OTEL_EXPORTER_OTLP_HEADERS", name, redactURL(raw))
	}
	return u, nil
}

// redactURL keeps a bad endpoint's text out of error messages when it
// might hold credentials.
func redactURL(raw string) string {
	if strings.Contains(raw, "@") {
		return "(a URL with credentials)"
	}
	return raw
}

// Enabled reports whether traces are exported.
func (t *Tracing) Enabled() bool { return t.provider != nil }

// Runs is the engine's tracer, or nil when tracing is off (the engine then
// does no tracing work at all).
func (t *Tracing) Runs() engine.Tracer {
	if t.provider == nil {
		return nil
	}
	return NewRuns(t.provider)
}

// Shutdown exports the spans still buffered and stops exporting; ctx
// bounds how long it waits for the endpoint.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
