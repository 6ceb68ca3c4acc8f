"""Prometheus metrics of the agent service.

Counters and histograms are ordinary prometheus_client metrics. When
``PROMETHEUS_MULTIPROC_DIR`` is set before prometheus_client is imported
(``agent-app serve`` / ``worker`` do that, under ``$AGENT_STATE_DIR``), they
live in prometheus_client's multiprocess files and ``/metrics`` sums every
uvicorn worker, so any worker answers the same totals.

Gauges whose value is a fact about shared state rather than about one process
(fallback switch, slot coverage and duplicate rate, queue lengths, token
budget) are not stored per process at all: :class:`StateCollector` computes
them at scrape time from the shared state file and the store, so they are
identical whichever worker answers. The one per-process gauge,
``agent_inflight_turns``, uses ``multiprocess_mode="livesum"``.

Counter names: prometheus_client appends ``_total`` to a counter's samples,
so ``Counter("qgen", ...)`` exposes exactly ``qgen_total``.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import prometheus_client
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess, values)
from prometheus_client.core import GaugeMetricFamily

from .config import MODES
from .pipeline import STAGES

if hasattr(prometheus_client, "disable_created_metrics"):
    # No *_created series: the exposition lists exactly the documented names.
    prometheus_client.disable_created_metrics()

TURN_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
CHAT_LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2000, 3000, 5000, 10000, 30000)
DEFAULT_QUEUE = "agent-jobs"

CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_enabled() -> bool:
    """True when prometheus_client was imported with PROMETHEUS_MULTIPROC_DIR set."""
    return values.ValueClass is not values.MutexValue


class Metrics:
    def __init__(self):
        self.multiprocess = multiprocess_enabled()
        self.registry = CollectorRegistry()
        reg = None if self.multiprocess else self.registry

        self.turn_latency = Histogram(
            "turn_latency_seconds", "End-to-end latency of one conversational turn",
            buckets=TURN_LATENCY_BUCKETS, registry=reg)
        self.slot_duplicates = Counter(
            "slot_duplicates", "Slot values or questions filtered as duplicates",
            ["pipeline_stage"], registry=reg)
        self.qgen = Counter("qgen", "Questions generated (stage06_qgen)", registry=reg)
        self.qcheck_failed = Counter("qcheck_failed", "Generated questions rejected by QCheck "
                                     "(stage07_qcheck)", registry=reg)
        self.chat_execution = Counter("chat_execution", "Chat executions", ["mode"], registry=reg)
        self.chat_success = Counter("chat_execution_success", "Successful chat executions",
                                    ["mode"], registry=reg)
        self.chat_error = Counter("chat_execution_error", "Failed chat executions", ["mode"],
                                  registry=reg)
        self.chat_latency = Histogram(
            "chat_execution_latency_ms", "Chat execution latency in milliseconds", ["mode"],
            buckets=CHAT_LATENCY_BUCKETS_MS, registry=reg)
        self.spontaneous = Counter("spontaneous_speech", "Spontaneous messages (runbook 002)",
                                   registry=reg)
        self.jobs_processed = Counter("agent_jobs_processed", "Queue jobs processed by result",
                                      ["result"], registry=reg)
        self.tool_runs = Counter("dynamic_tool_runs", "Dynamic tool executions by result",
                                 ["result"], registry=reg)
        self.inflight = Gauge("agent_inflight_turns", "Turns being processed right now",
                              registry=reg, multiprocess_mode="livesum")

        # Expose every documented series from the start (value 0).
        for stage in STAGES:
            self.slot_duplicates.labels(stage)
        for mode in MODES:
            self.chat_execution.labels(mode)
            self.chat_success.labels(mode)
            self.chat_error.labels(mode)
            self.chat_latency.labels(mode)
        for result in ("done", "retry", "dead_letter"):
            self.jobs_processed.labels(result)
        for result in ("success", "failure"):
            self.tool_runs.labels(result)

    def _base(self):
        """This process's registry, or one that reads every worker's multiprocess files."""
        if not self.multiprocess:
            return self.registry
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry

    def exposition(self, extra=None) -> bytes:
        return generate_latest(_Combined([self._base()] + ([extra] if extra is not None else [])))

    def samples(self) -> Iterable:
        for family in self._base().collect():
            yield from family.samples

    def mark_process_dead(self) -> None:
        if self.multiprocess:
            try:
                multiprocess.mark_process_dead(os.getpid())
            except OSError:
                pass


class _Combined:
    """Anything with collect(), chained: what generate_latest() needs."""

    def __init__(self, sources):
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source.collect()


class StateCollector:
    """Gauges computed at scrape time from shared state and the store."""

    def __init__(self, info: Dict[str, str], read_state: Callable[[], dict],
                 queue_stats: Callable[[], Dict[str, Dict[str, int]]],
                 tokens_used: Callable[[], int], token_budget: int,
                 tool_count: Optional[Callable[[], int]] = None):
        self.info = info
        self.read_state = read_state
        self.queue_stats = queue_stats
        self.tokens_used = tokens_used
        self.token_budget = token_budget
        self.tool_count = tool_count

    def describe(self):
        return []

    def collect(self):
        info = GaugeMetricFamily("agent_info", "Version and profile of the running service",
                                 labels=sorted(self.info))
        info.add_metric([self.info[k] for k in sorted(self.info)], 1)
        yield info

        try:
            state = self.read_state()
        except OSError:
            state = {}
        fallback = GaugeMetricFamily("chat_runtime_fallback_enabled",
                                     "1 when the runtime fell back to direct_llm (runbook 003)")
        fallback.add_metric([], 1 if state.get("fallback", {}).get("enabled") else 0)
        yield fallback

        stats = state.get("stats", {})
        coverage = GaugeMetricFamily("slot_coverage", "Share of the stage's slots filled in the "
                                     "last processed session (0..1)", labels=["pipeline_stage"])
        dup_rate = GaugeMetricFamily("slot_duplicate_rate", "Duplicates / checks per pipeline stage "
                                     "since start", labels=["pipeline_stage"])
        for stage in STAGES:
            coverage.add_metric([stage], float(stats.get("coverage", {}).get(stage, 0.0)))
            checks = stats.get("checks", {}).get(stage, 0)
            dups = stats.get("duplicates", {}).get(stage, 0)
            dup_rate.add_metric([stage], dups / checks if checks else 0.0)
        yield coverage
        yield dup_rate

        store_up = 1
        try:
            queues = self.queue_stats()
            used = self.tokens_used()
        except Exception:  # store unreachable: leave these series out, say so
            store_up, queues, used = 0, None, None
        up = GaugeMetricFamily("agent_store_up", "1 when the last scrape could read the store")
        up.add_metric([], store_up)
        yield up
        if queues is not None:
            active = GaugeMetricFamily("queue_messages", "Jobs waiting or running per queue",
                                       labels=["queue"])
            dead = GaugeMetricFamily("queue_dead_letter_messages", "Jobs in the dead-letter state "
                                     "per queue", labels=["queue"])
            for queue, counts in sorted(queues.items()):
                active.add_metric([queue], counts.get("active", 0))
                dead.add_metric([queue], counts.get("dead_letter", 0))
            yield active
            yield dead
            ratio = GaugeMetricFamily("agent_token_budget_used_ratio",
                                      "Tokens used this month / AGENT_TOKEN_BUDGET")
            ratio.add_metric([], used / self.token_budget)
            yield ratio
        if self.tool_count is not None:
            try:
                count = self.tool_count()
            except OSError:
                count = None
            if count is not None:
                tools = GaugeMetricFamily("dynamic_tools_count", "Tool definitions in .pi/tools")
                tools.add_metric([], count)
                yield tools


def histogram_quantile(q: float, buckets: List[Tuple[float, float]]) -> Optional[float]:
    """Prometheus-style quantile from cumulative ``(le, count)`` buckets."""
    buckets = sorted(buckets)
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def runtime_summary(samples: Iterable) -> dict:
    """The JSON of ``GET /api/v1/runtime/metrics`` (``data.runtime``)."""
    per_mode = {mode: {"total": 0.0, "success": 0.0, "error": 0.0, "buckets": {}} for mode in MODES}
    names = {"chat_execution_total": "total", "chat_execution_success_total": "success",
             "chat_execution_error_total": "error"}
    for sample in samples:
        mode = sample.labels.get("mode")
        if mode not in per_mode:
            continue
        if sample.name in names:
            per_mode[mode][names[sample.name]] += sample.value
        elif sample.name == "chat_execution_latency_ms_bucket":
            le = float(sample.labels["le"])
            per_mode[mode]["buckets"][le] = per_mode[mode]["buckets"].get(le, 0.0) + sample.value

    def block(total, success, error, buckets):
        out = {
            "total": int(total), "success": int(success), "error": int(error),
            "success_rate": round(success / total, 4) if total else None,
            "error_rate": round(error / total, 4) if total else None,
        }
        points = list(buckets.items())
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            value = histogram_quantile(q, points)
            out[f"latency_{name}_ms"] = round(value, 2) if value is not None else None
        return out

    result = {}
    all_buckets: Dict[float, float] = {}
    totals = [0.0, 0.0, 0.0]
    by_mode = {}
    for mode, data in per_mode.items():
        by_mode[mode] = block(data["total"], data["success"], data["error"], data["buckets"])
        totals[0] += data["total"]
        totals[1] += data["success"]
        totals[2] += data["error"]
        for le, count in data["buckets"].items():
            all_buckets[le] = all_buckets.get(le, 0.0) + count
    result.update(block(totals[0], totals[1], totals[2], all_buckets))
    result["by_mode"] = by_mode
    return result
