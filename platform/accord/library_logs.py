"""Library noise goes to a log file; the terminal shows accord's progress and results.

accord's commands print results on stdout (``--json`` for scripts) and their own progress on
stderr. The libraries underneath talk too: transformers warns and reports weights it loaded,
tqdm bars (weight loading, datasets' map, trl) redraw on stderr, Python warnings fire on
import, and DeepSpeed, which accelerate imports whenever it is installed, attaches a handler
on *stdout* to its "DeepSpeed" logger and warns through it on machines without GPUs.

``quiet_libraries(log_file)`` (called by the CLI before any command runs) sends all of that to
``log_file`` (``<home>/logs/accord.log``, appended, one header line per command): library
loggers lose their console handlers and propagate to a file handler on the root logger,
Python warnings are logged, and tqdm bars (every library's bars are tqdm's) draw into the log
file instead of the terminal. With ``verbose=True`` (``accord --verbose``) the records are
also shown on stderr and the bars stay on stderr. Nothing is ever written to stdout.

>>> import logging, sys, tempfile, pathlib
>>> from accord.library_logs import quiet_libraries
>>> log = pathlib.Path(tempfile.mkdtemp()) / "logs" / "accord.log"
>>> quiet_libraries(log, command="accord demo") == log
True
>>> handler = logging.StreamHandler(stream=sys.stdout)
>>> logging.getLogger("DeepSpeed").addHandler(handler)   # what DeepSpeed does on import
>>> handler in logging.getLogger("DeepSpeed").handlers   # not kept: its records go to the file
False
>>> logging.getLogger("DeepSpeed").warning("no accelerator found")
>>> "no accelerator found" in log.read_text()
True
>>> tf = logging.getLogger("transformers")    # what transformers does when first used:
>>> tf.addHandler(logging.StreamHandler(sys.stderr)); tf.propagate = False
>>> logging.getLogger("transformers.modeling_utils").warning("LOAD REPORT: score.weight MISSING")
>>> "LOAD REPORT" in log.read_text()
True
>>> release_libraries(); tf.propagate = True
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

# Loggers of libraries that attach their own console handlers (and stop propagation).
LIBRARY_LOGGERS = (
    "DeepSpeed",
    "transformers",
    "datasets",
    "trl",
    "accelerate",
    "vllm",
    "huggingface_hub",
    "torch",
    "sentence_transformers",
    "argilla",
    "httpx",
)
# Environment switches read by the libraries when they start (set only when not already set).
QUIET_ENV = {"TOKENIZERS_PARALLELISM": "false"}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_state: dict = {}


def _is_console(handler: logging.Handler) -> bool:
    return (
        isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
        and getattr(handler, "stream", None)
        in (sys.stdout, sys.__stdout__, sys.stderr, sys.__stderr__)
    )


def _place(logger: logging.Logger, handler: logging.Handler) -> bool:
    """Whether to keep a console ``handler`` on ``logger``: never on stdout (moved to stderr),
    and not at all while ``quiet_libraries`` is in force (its records propagate to the file)."""
    if not _is_console(handler):
        return True
    if _state:
        logger.propagate = True
        return False
    if handler.stream in (sys.stdout, sys.__stdout__):  # type: ignore[attr-defined]
        handler.setStream(sys.stderr)  # type: ignore[attr-defined]
    return True


def _propagating(cls: type) -> type:
    """A subclass of logger class ``cls`` that keeps propagating while ``quiet_libraries`` is in
    force, whatever the library sets (transformers sets ``propagate = False`` right after adding
    its own handler, which would leave its records to Python's last-resort stderr handler)."""

    def get(self) -> bool:
        return True if _state else self.__dict__.get("propagate", True)

    def set_(self, value: bool) -> None:
        self.__dict__["propagate"] = value

    return type(f"Propagating{cls.__name__}", (cls,), {"propagate": property(get, set_)})


def _claim(logger: logging.Logger) -> None:
    """Apply ``_place`` to the handlers ``logger`` has and to those it gets later."""
    if not getattr(logger, "_accord_claimed", False):
        logger.__class__ = _propagating(logger.__class__)
        add_handler = logger.addHandler

        def add_handler_placed(handler: logging.Handler) -> None:
            if _place(logger, handler):
                add_handler(handler)

        logger.addHandler = add_handler_placed  # type: ignore[method-assign]
        logger._accord_claimed = True  # type: ignore[attr-defined]
    for handler in list(logger.handlers):
        if not _place(logger, handler):
            logger.removeHandler(handler)


def default_log_file() -> Path:
    """``<home>/logs/accord.log``."""
    from .settings import get_settings

    return get_settings().home / "logs" / "accord.log"


def quiet_libraries(
    log_file: str | Path | None = None, *, verbose: bool = False, command: str = ""
) -> Path | None:
    """Route library logs, warnings and progress bars to ``log_file`` (and, when ``verbose``,
    to stderr too). Returns the log file, or None when it cannot be written (then library
    records go to stderr, never stdout)."""
    release_libraries()
    path = Path(log_file) if log_file is not None else default_log_file()
    root = logging.getLogger()
    handlers: list[logging.Handler] = []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8", delay=False)
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        file_handler.stream.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {command}\n")
        handlers.append(file_handler)
    except OSError:
        path = None
    if verbose or path is None:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handlers.append(console)
    if not verbose:
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)
        if path is not None:
            _bars_into(handlers[0].stream)
    for handler in handlers:
        root.addHandler(handler)
    _state.update(handlers=handlers, level=root.level)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    for name in LIBRARY_LOGGERS:
        _claim(logging.getLogger(name))
    _quiet_imported_libraries()
    return path


def _bars_into(stream) -> None:
    """tqdm bars created without an explicit ``file`` draw into ``stream``."""
    import tqdm.std

    draw = tqdm.std.tqdm.__init__

    def init(self, *args, **kwargs):
        if len(args) < 5 and kwargs.get("file") is None:  # file is tqdm's 5th positional argument
            kwargs["file"] = stream
        draw(self, *args, **kwargs)

    tqdm.std.tqdm.__init__ = init  # type: ignore[method-assign]
    _state["tqdm_init"] = draw


def _quiet_imported_libraries() -> None:
    """Libraries imported already (tests, notebooks) configured themselves: undo that."""
    tf_logging = sys.modules.get("transformers.utils.logging")
    if tf_logging is not None:
        tf_logging.disable_default_handler()
        tf_logging.enable_propagation()


def release_libraries() -> None:
    """Undo ``quiet_libraries`` (remove its handlers; the loggers keep propagating)."""
    if not _state:
        return
    root = logging.getLogger()
    for handler in _state["handlers"]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(_state["level"])
    logging.captureWarnings(False)
    if "tqdm_init" in _state:
        import tqdm.std

        tqdm.std.tqdm.__init__ = _state["tqdm_init"]  # type: ignore[method-assign]
    _state.clear()


def route_library_logs_to_stderr() -> None:
    """Move the stdout handlers of library loggers to stderr, now and when they are added
    (idempotent; called when accord is imported, before those libraries are)."""
    for name in LIBRARY_LOGGERS:
        _claim(logging.getLogger(name))
