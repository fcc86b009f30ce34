"""Logging: structlog everywhere; configured once, by the CLI, never by the library.

The library logs through :func:`get_logger` and binds connector, operation and ids.
Embedded in another application, serialsync configures nothing global: when the application
has configured structlog, events go through its configuration; when it has not, they go to
the standard ``logging`` logger of the same name (``serialsync.http``…), so the application's
handlers and levels apply, instead of structlog's unconfigured default (every event, debug
included, printed on stdout).

:func:`configure_logging` is for the CLI: JSON lines when stderr is not a terminal, a readable
console otherwise, with :func:`~serialsync.redaction.redact_event` as a last line of defence.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

from serialsync.redaction import redact_event

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR
_LEVELS["critical"] = logging.CRITICAL


def get_logger(name: str) -> Any:
    """The logger serialsync's own code uses (see the module docstring)."""
    return _LibraryLogger(name, {})


def adapt_logger(logger: Any) -> Any:
    """A logger an application hands serialsync (``logger=``), made one serialsync can bind.

    Accepted: anything structlog-shaped (a ``bind`` method: a structlog logger, bound or not,
    or serialsync's own), returned as it is; a standard-library :class:`logging.Logger` or
    :class:`logging.LoggerAdapter`, wrapped by structlog's stdlib integration so that each event
    reaches it as one line (``event key=value …``, secrets masked) at the event's level, under
    its handlers and level; ``None`` stays ``None`` (serialsync's own loggers).
    """
    if logger is None or hasattr(logger, "bind"):
        return logger
    if isinstance(logger, logging.Logger | logging.LoggerAdapter):
        return structlog.wrap_logger(
            logger,
            wrapper_class=structlog.stdlib.BoundLogger,
            processors=[
                structlog.stdlib.filter_by_level,  # nothing rendered for a level it drops
                structlog.processors.format_exc_info,
                redact_event,
                structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True),
            ],
            cache_logger_on_first_use=False,
        )
    raise TypeError(
        f"logger= takes a structlog logger or a logging.Logger, not {type(logger).__name__}"
    )


class _LibraryLogger:
    """A structlog-shaped logger that decides *per event* where the event goes.

    The decision is made when an event is logged, not when the logger is made, so a logger
    bound before the application configures structlog (or before a test's
    ``structlog.testing.capture_logs()``) still follows that configuration.
    """

    def __init__(self, name: str, context: dict[str, Any]) -> None:
        self._name = name
        self._context = context

    def __repr__(self) -> str:
        return f"<serialsync logger {self._name!r}>"

    def bind(self, **values: Any) -> _LibraryLogger:
        """A logger with ``values`` added to every event."""
        return _LibraryLogger(self._name, {**self._context, **values})

    def new(self, **values: Any) -> _LibraryLogger:
        """A logger with only ``values`` bound."""
        return _LibraryLogger(self._name, dict(values))

    def unbind(self, *keys: str) -> _LibraryLogger:
        """A logger without ``keys``."""
        return _LibraryLogger(self._name, {k: v for k, v in self._context.items() if k not in keys})

    def is_enabled_for(self, level: int) -> bool:
        """Whether an event at ``level`` (``logging.DEBUG`` …) would be logged now, decided as
        :meth:`_emit` decides; ``True`` when the configured structlog cannot say."""
        if structlog.is_configured():
            wrapper = structlog.get_config()["wrapper_class"]
            try:
                return level >= int(wrapper.get_effective_level(None))
            except Exception:  # a wrapper that is not structlog's filtering one: log it
                return True
        return logging.getLogger(self._name).isEnabledFor(level)

    def debug(self, event: str, **values: Any) -> None:
        """Log at debug level."""
        self._emit("debug", event, values)

    def info(self, event: str, **values: Any) -> None:
        """Log at info level."""
        self._emit("info", event, values)

    def warning(self, event: str, **values: Any) -> None:
        """Log at warning level."""
        self._emit("warning", event, values)

    warn = warning

    def error(self, event: str, **values: Any) -> None:
        """Log at error level."""
        self._emit("error", event, values)

    def critical(self, event: str, **values: Any) -> None:
        """Log at critical level."""
        self._emit("critical", event, values)

    def exception(self, event: str, **values: Any) -> None:
        """Log at error level with the exception being handled."""
        self._emit("exception", event, values)

    def _emit(self, method: str, event: str, values: dict[str, Any]) -> None:
        if structlog.is_configured():
            bound = structlog.get_logger(self._name).bind(**self._context)
            getattr(bound, method)(event, **values)
            return
        level = _LEVELS.get(method, logging.ERROR)
        std = logging.getLogger(self._name)
        if not std.isEnabledFor(level):
            return
        fields = redact_event(None, method, {**self._context, **values})
        text = " ".join(f"{key}={value!r}" for key, value in fields.items())
        std.log(level, "%s %s", event, text, exc_info=method == "exception")


def configure_logging(
    *,
    level: str = "info",
    format: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog for a command-line run (call it once, at the edge)."""
    out = stream or sys.stderr
    use_json = format == "json" or (format == "auto" and not out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
