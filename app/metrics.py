"""The gateway's Prometheus metrics live in app.observability.metrics; this name is kept
for the modules that import them from here."""

from app.observability.metrics import *  # noqa: F403
from app.observability.metrics import RATE_LIMIT_BACKEND_ERRORS as RATE_LIMIT_BACKEND_ERRORS
