"""State shared by every worker process of one service: fault switch, runtime
fallback, deterministic fault counters and the pipeline statistics behind the
``slot_coverage`` / ``slot_duplicate_rate`` gauges.

It lives in ``$AGENT_STATE_DIR/runtime_state.json``. Every read-modify-write
holds an exclusive ``flock`` on ``runtime_state.lock`` and replaces the JSON
file atomically (write to a temporary file, then ``os.replace``), so uvicorn
workers never see a half-written file and never lose an update.

The fault switch and the fallback state survive restarts (a restart does not
clear an operator's fallback, runbook 003 resets it explicitly); the
statistics are cleared when ``agent-app serve`` starts, like the metrics.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import fcntl
import json
import os
import tempfile
from typing import Iterator

STATE_FILE = "runtime_state.json"
LOCK_FILE = "runtime_state.lock"

DEFAULT_FAULT = {"error_rate": 0.0, "extra_latency_ms": 0, "store_down": False}


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso_ms(moment: _dt.datetime | None = None) -> str:
    """``2024-01-15T10:30:00.000Z`` (the timestamp format of runbook 004's audit log)."""
    moment = (moment or utcnow()).astimezone(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def default_state() -> dict:
    return {
        "fault": dict(DEFAULT_FAULT, updated_at=None),
        "counters": {},
        "fallback": {
            "enabled": False,
            "reason": None,
            "triggered_at": None,
            "reset_at": None,
            "trigger_count": 0,
            "consecutive_errors": 0,
            "recent": [],
        },
        "stats": {},
    }


def should_fail(counter: int, rate: float) -> bool:
    """Deterministic failure schedule: call number ``counter`` (1-based) fails
    when ``floor(counter * rate)`` steps up, so exactly ``floor(n * rate)`` of
    the first ``n`` calls fail (rate 0.2: calls 5, 10, 15, ...)."""
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    # Work in integer millionths to avoid float drift (0.2 * 5 == 1.0000000000000002...).
    ppm = round(rate * 1_000_000)
    return (counter * ppm) // 1_000_000 > ((counter - 1) * ppm) // 1_000_000


class SharedState:
    def __init__(self, state_dir: str):
        self.state_dir = os.path.abspath(state_dir)
        self.path = os.path.join(self.state_dir, STATE_FILE)
        self.lock_path = os.path.join(self.state_dir, LOCK_FILE)

    def ensure(self) -> None:
        os.makedirs(self.state_dir, exist_ok=True)

    # -- low level -------------------------------------------------------
    def _read_unlocked(self) -> dict:
        state = default_state()
        try:
            with open(self.path, encoding="utf-8") as handle:
                loaded = json.load(handle)
        except FileNotFoundError:
            return state
        except (OSError, ValueError):
            # A damaged state file must not take the service down: start afresh.
            return state
        if isinstance(loaded, dict):
            for key, value in loaded.items():
                if isinstance(state.get(key), dict) and isinstance(value, dict):
                    state[key].update(value)
                else:
                    state[key] = value
        return state

    def _write_unlocked(self, state: dict, durable: bool = False) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".runtime_state.", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, separators=(",", ":"), sort_keys=True)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.ensure()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextlib.contextmanager
    def transaction(self, durable: bool = False) -> Iterator[dict]:
        """Yield the state for modification; it is written back atomically."""
        with self._locked():
            state = self._read_unlocked()
            before = copy.deepcopy(state)
            yield state
            if state != before:
                self._write_unlocked(state, durable=durable)

    def read(self) -> dict:
        with self._locked():
            return self._read_unlocked()

    # -- helpers ------------------------------------------------------------
    def reset_stats(self) -> None:
        with self.transaction() as state:
            state["stats"] = {}
            state["counters"] = {}

    def get_fault(self) -> dict:
        return dict(self.read()["fault"])

    def set_fault(self, fault: dict) -> dict:
        with self.transaction(durable=True) as state:
            state["fault"] = dict(fault, updated_at=iso_ms())
            state["counters"] = {}
            return dict(state["fault"])

    def next_fault_decision(self, channel: str) -> dict:
        """Advance the deterministic counter of ``channel`` (turns, tools, jobs)
        and say whether this call must fail."""
        with self.transaction() as state:
            fault = state["fault"]
            rate = float(fault.get("error_rate") or 0.0)
            decision = {
                "fail": False,
                "counter": 0,
                "error_rate": rate,
                "extra_latency_ms": int(fault.get("extra_latency_ms") or 0),
                "store_down": bool(fault.get("store_down")),
                "fallback_enabled": bool(state["fallback"].get("enabled")),
            }
            if rate > 0:
                counter = int(state["counters"].get(channel, 0)) + 1
                state["counters"][channel] = counter
                decision["counter"] = counter
                decision["fail"] = should_fail(counter, rate)
            return decision
