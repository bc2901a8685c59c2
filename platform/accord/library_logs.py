"""Library log handlers that would write to standard output are moved to standard error.

accord's commands print results on stdout (``--json`` for scripts), so nothing else may land
there. DeepSpeed, which accelerate imports whenever it is installed, attaches a handler on
*stdout* to its "DeepSpeed" logger at import time and, on a machine without GPUs, warns through it
on every import. Claiming that logger before DeepSpeed is imported lets accord redirect the
handler as DeepSpeed adds it; the messages still reach the user, on stderr.

>>> import logging, sys
>>> from accord.library_logs import route_library_logs_to_stderr
>>> route_library_logs_to_stderr()
>>> handler = logging.StreamHandler(stream=sys.stdout)
>>> logging.getLogger("DeepSpeed").addHandler(handler)
>>> handler.stream is sys.stderr
True
>>> logging.getLogger("DeepSpeed").removeHandler(handler)
"""

from __future__ import annotations

import logging
import sys

STDOUT_LOGGERS = ("DeepSpeed",)


def _to_stderr(logger: logging.Logger) -> None:
    if getattr(logger, "_accord_stderr", False):
        return
    add_handler = logger.addHandler

    def add_handler_on_stderr(handler: logging.Handler) -> None:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
            handler.setStream(sys.stderr)
        add_handler(handler)

    logger.addHandler = add_handler_on_stderr  # type: ignore[method-assign]
    logger._accord_stderr = True  # type: ignore[attr-defined]
    for handler in list(logger.handlers):  # already imported: move the handlers it has
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__):
            handler.setStream(sys.stderr)


def route_library_logs_to_stderr() -> None:
    """Send the stdout handlers of known chatty library loggers to stderr (idempotent)."""
    for name in STDOUT_LOGGERS:
        _to_stderr(logging.getLogger(name))
