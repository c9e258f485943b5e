"""``.env.example`` names every setting of app/config.py; its commented lines show the
real defaults; its values are valid, and its placeholder secret is refused in production."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
LINE = re.compile(r"^(# ?)?([A-Z][A-Z0-9_]*)=(.*)$")
# Commented lines that show an example rather than the default.
EXAMPLES = {
    "MIGRATION_DATABASE_URL",
    "CORS_ORIGINS",
    "GRAPHIQL",
    "ID_SECRET",
    "REDIS_URL",
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "PROMETHEUS_MULTIPROC_DIR",
}


def _lines(*, commented: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if (match := LINE.match(line)) and bool(match[1]) == commented:
            found[match[2]] = match[3]
    return found


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_env_example_lists_every_setting() -> None:
    listed = _lines(commented=True) | _lines(commented=False)
    assert [name.upper() for name in Settings.model_fields if name.upper() not in listed] == []


def test_env_example_comments_show_the_defaults() -> None:
    shown = {
        name: value
        for name, value in _lines(commented=True).items()
        if name.lower() in Settings.model_fields and name not in EXAMPLES
    }
    parsed = Settings(_env_file=None, **{name.lower(): v for name, v in shown.items()})
    defaults = Settings(_env_file=None)
    assert {n: getattr(parsed, n.lower()) for n in shown} == {
        n: getattr(defaults, n.lower()) for n in shown
    }


def test_env_example_values_are_valid_and_its_placeholder_secret_cannot_go_live() -> None:
    values = {
        name.lower(): value
        for name, value in (_lines(commented=True) | _lines(commented=False)).items()
        if name.lower() in Settings.model_fields
    }
    with pytest.raises(ValidationError, match="JWT_SECRET must be at least 32 characters"):
        Settings(_env_file=None, **{**values, "app_env": "production"})
    live = {**values, "app_env": "production", "jwt_secret": "s" * 32, "id_secret": "i" * 32}
    assert Settings(_env_file=None, **live).app_env == "production"
