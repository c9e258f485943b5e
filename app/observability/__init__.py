"""What the gateway tells its operators: structured logs with one access line per GraphQL
request (logs, access), Prometheus metrics (metrics) and OpenTelemetry traces (tracing).
docs/observability.md lists the fields, series and settings."""
