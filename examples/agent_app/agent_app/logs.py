"""Application log: plain text lines ``<timestamp> <LEVEL> [<pid>] <logger>: <message>``
in ``AGENT_LOG_FILE`` (reopened after logrotate moves it) and on stderr (journald)."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
_MARK = "_agent_app_handler"


def setup_logging(log_file: str | None, level: str, stderr: bool = True) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter(FORMAT)
    handlers = []
    if log_file:
        directory = os.path.dirname(os.path.abspath(log_file))
        os.makedirs(directory, exist_ok=True)
        handlers.append(logging.handlers.WatchedFileHandler(log_file, encoding="utf-8"))
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        setattr(handler, _MARK, True)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # Libraries stay quiet even in the test profile's DEBUG.
    for noisy in ("httpx", "httpcore", "asyncio", "multipart", "psycopg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
