"""Logging, configured once per process (``python -m app …`` and each ``serve`` worker).

structlog renders every line: JSON objects in production (``LOG_FORMAT=json``), readable
lines in development (``console``). The app's structlog loggers (the access line) render
and write directly — the cheapest path, taken once per request; stdlib loggers (the
app's own ``logging.getLogger``, uvicorn's, SQLAlchemy's, alembic's) go through the same
processors as a ``logging`` formatter. Both merge structlog's context variables and
add the id of the request being answered (``REQUEST``, set by app.observability.access),
so it is on every line logged while the request runs. Lines go to stderr: stdout
belongs to the commands' output (``token``, ``seed``).
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import Processor

from app.config import Settings

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")

# The request being answered (app.observability.access.Observed), None between requests.
REQUEST: ContextVar[Any] = ContextVar("harmony_request", default=None)


def _request_id(_logger: Any, _name: str, event: Any) -> Any:
    """``request_id``: the id of the request being answered, on every line it logs."""
    request = REQUEST.get()
    if request is not None:
        event.setdefault("request_id", request.request_id)
    return event


class _Timestamp:
    """``timestamp``: ISO 8601 in UTC with microseconds, like structlog's ``TimeStamper``
    but with the date and time of day formatted once a second (a third of the cost of
    an access line went to ``datetime.isoformat``). A line may bring its own time (the
    access line: when its request ended) as ``timestamp=time.time()``."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, _logger: Any, _name: str, event: Any) -> Any:
        event["timestamp"] = self.format(event.get("timestamp") or time.time())
        return event

    def format(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((now - second) * 1e6):06d}Z"


def _processors(settings: Settings) -> tuple[list[Processor], Processor]:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _request_id,
        structlog.processors.add_log_level,
        _Timestamp(),
    ]
    if settings.logs_as_json:
        return [*shared, structlog.processors.format_exc_info], structlog.processors.JSONRenderer(
            serializer=orjson.dumps
        )
    return shared, structlog.dev.ConsoleRenderer(colors=False)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route every logger of this process to ``stream`` (stderr) through structlog."""
    stream = stream or sys.stderr
    shared, renderer = _processors(settings)
    level = logging.getLevelNamesMapping()[settings.log_level]
    if settings.logs_as_json:
        # orjson renders bytes: written as they are, without a decode and encode.
        binary: Any = getattr(stream, "buffer", None) or _Bytes(stream)
        factory: Any = structlog.BytesLoggerFactory(binary)
    else:
        binary, factory = None, structlog.WriteLoggerFactory(stream)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    # The access lines are written in batches: one write and flush per batch. JSON lines
    # are rendered by ``access_line`` itself; console lines go through structlog.
    global ACCESS, _access_out, _access_json
    _access_out = _Batch(binary if settings.logs_as_json else stream)
    if settings.logs_as_json:
        _access_json = _access_out.write
    else:
        _access_json = None
        out: Any = _access_out  # a text stream to structlog
        ACCESS = structlog.wrap_logger(structlog.WriteLogger(out)).bind(logger="app.access")

    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _text(renderer),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in UVICORN_LOGGERS:  # uvicorn's own handlers would print a second copy
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    # uvicorn writes its own access line whenever that logger has a handler, the root's
    # included (``access_log=False`` is undone by routing it here): the gateway's access
    # line replaces it, so it has none and is off (it cost ~5 % of a small request).
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers = []
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True


def _text(renderer: Processor) -> Processor:
    """A ``logging`` formatter returns text: decode what a bytes renderer returns."""

    def render(logger: Any, name: str, event: Any) -> Any:
        out = renderer(logger, name, event)
        return out.decode() if isinstance(out, bytes) else out

    return render


class _Bytes:
    """A text stream without a binary buffer (a test's StringIO), written as bytes."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data.decode())

    def flush(self) -> None:
        self._stream.flush()


class _Batch:
    """A stream whose ``flush`` waits for ``flush_access`` (the end of a batch)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.write = stream.write

    def flush(self) -> None:
        pass


_access_out: _Batch | None = None
_access_json: Any = None  # JSON lines: the batch's write (configure_logging)
_access_time = _Timestamp()


def access_line(fields: dict[str, Any], at: float) -> None:
    """One access line, ``fields`` and the time ``at``. With JSON lines it is rendered
    here, as the processors would render it (the request's own fields, ``event``,
    ``logger``, ``level``, ``timestamp``): walking structlog's chain of processors was
    two thirds of the line's CPU, and the line takes no context variables (it is written
    after its request, in a batch). Otherwise it goes through ``ACCESS``."""
    write = _access_json
    if write is None:
        ACCESS.info("graphql request", **fields, timestamp=at)
        return
    fields["event"] = "graphql request"
    fields["logger"] = "app.access"
    fields["level"] = "info"
    fields["timestamp"] = _access_time.format(at)
    write(orjson.dumps(fields) + b"\n")


def flush_access() -> None:
    if _access_out is not None:
        _access_out.stream.flush()


def _stdlib_access() -> Any:
    """The access line's logger until logging is configured (an app inside tests,
    another server): its lines go to the stdlib logger ``app.access``, their fields as
    the record's extras."""
    return structlog.wrap_logger(
        logging.getLogger("app.access"),
        processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.render_to_log_kwargs],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


ACCESS: Any = _stdlib_access()  # console lines, or the stdlib logger (above)


def unconfigure_access() -> None:
    """The access lines back to the stdlib logger, as before ``configure_logging`` (for
    tests that configured logging for a while)."""
    global ACCESS, _access_out, _access_json
    ACCESS, _access_out, _access_json = _stdlib_access(), None, None
