"""The edge: what a request passes before it may run (docs/limits.md).

In order (app.edge.pipeline): content type and declared body size (``http``), the
credential (a verified token or an API key's shape), the penalty box of credentials
inside their Retry-After (``ratelimit``), the body as a capped stream, the persisted-only
policy (``persisted``); then a slot or a place in the bounded queue (``admission``), and
from there under the request deadline: the persisted query's text, authentication
against the database, parse and static limits and cost (``analysis``), the rate-limit
charge (``ratelimit``, over ``pipelined``), validation, execution. Redis, when
configured, holds the shared state; ``shared`` says what happens when it fails.
"""
