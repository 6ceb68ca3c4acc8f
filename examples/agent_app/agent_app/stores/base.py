"""Interface shared by the SQLite (runbook 000) and PostgreSQL + Redis (runbook 002) stores."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from typing import Any, Callable, Dict, Optional

from ..pipeline import SLOT_SCHEMA, STAGES, TurnPlan

DEFAULT_QUEUE = "agent-jobs"
JOB_STATUSES = ("queued", "running", "done", "dead_letter", "cancelled")


class StoreError(Exception):
    """The store cannot be reached or failed; the request answers 503."""


class StoreSetupError(Exception):
    """The store can never work as configured (e.g. pgvector missing): exit at start."""


@dataclasses.dataclass
class TurnResult:
    session_id: int
    thread_id: str
    turn: int
    user_message_id: int
    reply_message_id: int
    plan: TurnPlan
    created: bool


def iso(value: Any) -> Optional[str]:
    """Render a stored timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_ts(value)
    value = value.astimezone(_dt.timezone.utc) if value.tzinfo else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc)


def month_start(now: Optional[_dt.datetime] = None) -> _dt.datetime:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def coverage_of(slots: Dict[str, Dict[str, str]]) -> Dict[str, float]:
    return {
        stage: round(len(slots.get(stage, {})) / len(SLOT_SCHEMA[stage]), 6) for stage in STAGES
    }


def session_view(row: Any, messages: list, slots: Dict[str, Dict[str, str]]) -> dict:
    """The JSON shape of a session, the same for every store."""
    return {
        "thread_id": row["thread_id"],
        "session_id": row["id"],
        "org_id": row["org_id"],
        "user": row["user_name"],
        "last_question": row["last_question"],
        "turn_count": row["turn_count"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "messages": messages,
        "slots": slots,
        "slot_coverage": coverage_of(slots),
    }


def job_payload(raw: Any) -> dict:
    if raw is None:
        return {}
    if isinstance(raw, (dict, list)):
        return raw if isinstance(raw, dict) else {"items": raw}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw}
    return value if isinstance(value, dict) else {"value": value}


PlanFn = Callable[[Dict[str, Dict[str, str]], Optional[str]], TurnPlan]


class Store:
    kind = "base"

    def init(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def health(self) -> Dict[str, str]:
        """Component name -> "ok" or an error text; raises nothing."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise :class:`StoreError` unless every component is healthy."""
        bad = {k: v for k, v in self.health().items() if v != "ok"}
        if bad:
            raise StoreError("; ".join(f"{k}: {v}" for k, v in bad.items()))

    def process_turn(self, thread_id: str, text: str, mode: str, user: Optional[str],
                     created_at: _dt.datetime, plan_fn: PlanFn) -> TurnResult:
        raise NotImplementedError

    def get_session(self, thread_id: str) -> Optional[dict]:
        raise NotImplementedError

    def stats(self) -> Dict[str, int]:
        raise NotImplementedError

    # jobs (runbook 001)
    def enqueue_job(self, queue: str, kind: str, payload: dict, tokens: int) -> dict:
        raise NotImplementedError

    def get_job(self, job_id: int) -> Optional[dict]:
        raise NotImplementedError

    def recover_running(self) -> int:
        """Requeue jobs a previous worker left in ``running``; returns how many."""
        raise NotImplementedError

    def claim_job(self) -> Optional[dict]:
        raise NotImplementedError

    def finish_job(self, job_id: int, ok: bool, error: Optional[str], max_attempts: int,
                   retry_delay: float) -> str:
        raise NotImplementedError

    def requeue_job(self, job_id: int) -> Optional[dict]:
        raise NotImplementedError

    def cancel_job(self, job_id: int) -> Optional[dict]:
        raise NotImplementedError

    def queue_stats(self) -> Dict[str, Dict[str, int]]:
        raise NotImplementedError

    def tokens_used_this_month(self) -> int:
        raise NotImplementedError
