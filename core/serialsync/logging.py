"""Logging: structlog everywhere; configured once, by the CLI, never by the library.

The library only calls ``structlog.get_logger(...)`` and binds connector, operation and ids.
Embedded in another application, serialsync configures nothing global: the host's structlog
(or standard ``logging``) configuration applies.

:func:`configure_logging` is for the CLI: JSON lines when stderr is not a terminal, a readable
console otherwise, with :func:`~serialsync.redaction.redact_event` as a last line of defence.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

from serialsync.redaction import redact_event

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR


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
