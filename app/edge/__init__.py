"""The edge: what a request passes before it may run (docs/limits.md).

In order: method and content type, body size, authentication, parse (token limit),
static limits and cost (``analysis``), the rate-limit charge (``ratelimit``),
validation, execution under a deadline with bounded queueing (``admission``).
Persisted operations (``persisted``) supply the text of a document by its hash.
"""
