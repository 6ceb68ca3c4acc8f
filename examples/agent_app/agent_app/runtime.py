"""Runtime auto-fallback (runbook 003) and the shared pipeline statistics.

Only executions in ``runtime_orchestrator`` mode feed the fallback monitor.
Fallback switches on when either

* ``CHAT_RUNTIME_FALLBACK_CONSECUTIVE_ERRORS`` (default 3) executions in a row
  failed, or
* at least 10 of the last 20 executions are known and their error rate is above
  ``CHAT_RUNTIME_ERROR_RATE_THRESHOLD`` (default 0.5).

While it is on, turns run in ``direct_llm`` mode and
``chat_runtime_fallback_enabled`` is 1. It stays on (also across restarts)
until ``POST /api/v1/runtime/fallback/reset``.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional

from .state import SharedState, iso_ms

log = logging.getLogger("agent_app.runtime")


class RuntimeMonitor:
    def __init__(self, state: SharedState, config):
        self.state = state
        self.threshold = config.fallback_error_rate_threshold
        self.consecutive_limit = config.fallback_consecutive_errors
        self.window = config.fallback_window
        self.min_samples = config.fallback_min_samples

    def record(self, mode: str, success: bool, error: Optional[str] = None,
               coverage: Optional[Dict[str, float]] = None,
               checks: Optional[Dict[str, int]] = None,
               duplicates: Optional[Dict[str, int]] = None) -> Optional[str]:
        """Record one execution; returns the fallback reason if this call triggered it."""
        triggered = None
        with self.state.transaction() as state:
            stats = state.setdefault("stats", {})
            if coverage:
                stats["coverage"] = dict(coverage)
            for key, delta in (("checks", checks), ("duplicates", duplicates)):
                if delta:
                    bucket = stats.setdefault(key, {})
                    for stage, n in delta.items():
                        if n:
                            bucket[stage] = bucket.get(stage, 0) + n
            if mode != "runtime_orchestrator":
                return None
            fb = state["fallback"]
            recent = list(fb.get("recent", []))[-(self.window - 1):] + [0 if success else 1]
            fb["recent"] = recent
            fb["consecutive_errors"] = 0 if success else int(fb.get("consecutive_errors", 0)) + 1
            if fb.get("enabled") or success:
                return None
            rate = sum(recent) / len(recent)
            if fb["consecutive_errors"] >= self.consecutive_limit:
                triggered = (f"{fb['consecutive_errors']} consecutive runtime_orchestrator errors "
                             f"(last error: {error})")
            elif len(recent) >= self.min_samples and rate > self.threshold:
                triggered = (f"runtime_orchestrator error rate {rate:.2f} > threshold "
                             f"{self.threshold:.2f} over the last {len(recent)} executions "
                             f"(last error: {error})")
            if triggered:
                fb.update(enabled=True, reason=triggered, triggered_at=iso_ms(),
                          trigger_count=int(fb.get("trigger_count", 0)) + 1)
        if triggered:
            log.warning("[RuntimeAdapter] 触发自动回退 (auto fallback triggered) -> direct_llm: %s",
                        triggered)
        return triggered

    def status(self) -> dict:
        fb = self.state.read()["fallback"]
        recent = fb.get("recent", [])
        return {
            "fallbackEnabled": bool(fb.get("enabled")),
            "fallbackReason": fb.get("reason"),
            "triggeredAt": fb.get("triggered_at"),
            "resetAt": fb.get("reset_at"),
            "triggerCount": int(fb.get("trigger_count", 0)),
            "currentMode": "direct_llm" if fb.get("enabled") else "runtime_orchestrator",
            "consecutiveErrors": int(fb.get("consecutive_errors", 0)),
            "recentErrorRate": round(sum(recent) / len(recent), 4) if recent else 0.0,
            "recentSamples": len(recent),
            "thresholds": {
                "errorRate": self.threshold,
                "consecutiveErrors": self.consecutive_limit,
                "window": self.window,
                "minSamples": self.min_samples,
            },
        }

    def reset(self, actor: str = "admin") -> dict:
        with self.state.transaction(durable=True) as state:
            fb = state["fallback"]
            previous = {"fallbackEnabled": bool(fb.get("enabled")), "fallbackReason": fb.get("reason")}
            fb.update(enabled=False, reason=None, reset_at=iso_ms(), consecutive_errors=0, recent=[])
        log.warning("[RuntimeAdapter] 禁用自动回退 (auto fallback reset by %s); previous reason: %s",
                    actor, previous["fallbackReason"])
        return previous
