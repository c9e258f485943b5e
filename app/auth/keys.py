"""Keys of the opaque identifiers (global IDs in app/domain/ids.py, cursors in
app/graphql/pagination.py), derived from the gateway's secret.

One key per use and per process: ``derived_key(label)`` is HMAC-SHA256(secret, label),
computed once, where the secret is ``ID_SECRET`` when set, else ``JWT_SECRET``, as read
from the environment by ``get_settings()``. A ``Settings`` object handed to
``create_app`` does not change them: IDs are encoded by pure functions called all over
the GraphQL layer, and one process serves one deployment. Every process of a deployment
must therefore see the same secret (they do: they read the same environment), and IDs
stay the same as long as that secret does.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from app.config import Settings, get_settings

# Labels are part of the keys: changing one changes every ID (or cursor) ever issued.
GLOBAL_ID_KEY = "harmony/global-id/v1"
CURSOR_KEY = "harmony/cursor/v1"


def identifier_secret(settings: Settings) -> str:
    """The secret the identifier keys derive from: ID_SECRET, else JWT_SECRET."""
    return settings.id_secret or settings.secret


@cache  # a handful of labels; the secret is fixed for the process
def derived_key(label: str) -> bytes:
    """32 bytes reserved to one use, named by ``label``."""
    secret = identifier_secret(get_settings()).encode()
    return hmac.new(secret, label.encode(), hashlib.sha256).digest()
