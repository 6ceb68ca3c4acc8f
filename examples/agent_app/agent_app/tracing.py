"""Per-day trace files (runbook 000: ``EL_TRACE=1``, ``EL_TRACE_DIR``, ``logs/wal/*.log``).

One JSON object per line in ``<EL_TRACE_DIR>/<YYYY-MM-DD>.log`` (UTC date):
``{"ts", "component": "Orchestrator"|"SlotRegistry"|"QCheck", "event",
"pipeline_stage", "thread_id", ...}``; QCheck failures carry
``qcheck_fail_reason``.
"""

from __future__ import annotations

import logging
import os

from .appendlog import append_line, json_line
from .state import iso_ms, utcnow

log = logging.getLogger("agent_app.trace")


class Tracer:
    def __init__(self, directory: str | None, enabled: bool):
        self.enabled = enabled and bool(directory)
        self.directory = os.path.abspath(directory) if directory else None
        self._warned = False

    def ensure(self) -> None:
        if self.enabled:
            os.makedirs(self.directory, exist_ok=True)

    def path_for_today(self) -> str:
        return os.path.join(self.directory, utcnow().strftime("%Y-%m-%d") + ".log")

    def emit(self, component: str, event: str, **fields) -> None:
        if not self.enabled:
            return
        entry = {"ts": iso_ms(), "component": component, "event": event}
        entry.update({k: v for k, v in fields.items() if v is not None})
        try:
            os.makedirs(self.directory, exist_ok=True)
            append_line(self.path_for_today(), json_line(entry))
        except OSError as exc:
            if not self._warned:
                log.error("trace write failed in %s: %s", self.directory, exc)
                self._warned = True
