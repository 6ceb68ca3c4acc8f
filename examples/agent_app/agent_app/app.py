"""The Starlette application: health, metrics, turns, sessions, jobs, admin,
runtime (runbook 003) and dynamic tools (runbook 004) endpoints.

``create_app()`` is the uvicorn factory (``agent_app.app:create_app``); the
role (``api`` or ``worker``) comes from ``AGENT_ROLE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import fcntl
import hmac
import logging
import os
import random
import threading
import time
from typing import Optional

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import get_version
from .config import MODES, Config, load_config
from .logs import setup_logging
from .metrics import CONTENT_TYPE, Metrics, StateCollector, runtime_summary
from .pipeline import QCHECK_STAGE, plan_turn
from .runtime import RuntimeMonitor
from .state import SharedState, iso_ms
from .stores import StoreError, StoreSetupError, make_store
from .stores.base import DEFAULT_QUEUE, parse_ts
from .tools import ToolError, ToolManager
from .tracing import Tracer

log = logging.getLogger("agent_app")
chat_log = logging.getLogger("agent_app.chat")
job_log = logging.getLogger("agent_app.worker")

MAX_TEXT = 10000


class InjectedFault(Exception):
    pass


def error(status: int, message: str, **extra) -> JSONResponse:
    body = {"error": message}
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class LeaderLock:
    """Non-blocking flock: only one uvicorn worker runs the periodic background jobs."""

    def __init__(self, path: str):
        self.path = path
        self.fd: Optional[int] = None

    def is_leader(self) -> bool:
        if self.fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                os.close(self.fd)
            self.fd = None


class JobWorker:
    """Runbook 001's worker: takes jobs from the ``jobs`` table, retries, dead-letters."""

    def __init__(self, service: "AgentService"):
        self.service = service
        self.config = service.config
        self.stop = threading.Event()
        self.heartbeat = time.monotonic()
        self.thread: Optional[threading.Thread] = None

    def start(self) -> None:
        try:
            self.service.ensure_store()
            recovered = self.service.store.recover_running()
            if recovered:
                job_log.warning("requeued %d job(s) left running by a previous worker", recovered)
        except StoreError as exc:
            job_log.error("worker cannot reach the store at start: %s", exc)
        self.thread = threading.Thread(target=self.loop, name="agent-job-worker", daemon=True)
        self.thread.start()
        job_log.info("job worker started (queue poll every %.2fs, dead-letter after %d attempts)",
                     self.config.worker_poll_interval, self.config.job_max_attempts)

    def loop(self) -> None:
        while not self.stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                busy = self.run_once()
            except Exception:  # never let the loop die
                job_log.exception("job worker iteration failed")
                busy = False
            if not busy:
                self.stop.wait(self.config.worker_poll_interval)
        job_log.info("job worker stopped")

    def run_once(self) -> bool:
        svc = self.service
        if svc.state.get_fault().get("store_down"):
            return False
        try:
            svc.ensure_store()
            job = svc.store.claim_job()
        except StoreError as exc:
            job_log.error("cannot take a job from the queue: %s", exc)
            return False
        if job is None:
            return False
        fault = svc.state.next_fault_decision("jobs")
        payload = job["payload"]
        attempt = job["attempts"]
        started = time.monotonic()
        err = None
        fail_times = payload.get("fail_times", 0)
        if fault["extra_latency_ms"]:
            time.sleep(fault["extra_latency_ms"] / 1000)
        if fault["fail"]:
            err = f"InjectedFault: error_rate={fault['error_rate']}"
        elif payload.get("fail"):
            err = "JobError: the job's payload asks to fail"
        elif isinstance(fail_times, int) and attempt <= fail_times:
            err = f"JobError: simulated failure {attempt} of {fail_times}"
        else:
            work_ms = payload.get("work_ms", 0)
            if isinstance(work_ms, (int, float)) and work_ms > 0:
                time.sleep(min(work_ms, 60000) / 1000)
        try:
            status = svc.store.finish_job(job["id"], err is None, err, self.config.job_max_attempts,
                                          self.config.job_retry_delay)
        except StoreError as exc:
            job_log.error("job_id=%s result could not be stored: %s", job["id"], exc)
            return False
        elapsed = int((time.monotonic() - started) * 1000)
        if status == "done":
            svc.metrics.jobs_processed.labels("done").inc()
            job_log.info("job_id=%s kind=%s processed successfully in %dms (attempt %d, tokens %d)",
                         job["id"], job["kind"], elapsed, attempt, job["tokens"])
        elif status == "dead_letter":
            svc.metrics.jobs_processed.labels("dead_letter").inc()
            job_log.error("job_id=%s kind=%s moved to dead-letter queue after %d attempts: %s",
                          job["id"], job["kind"], attempt, err)
        else:
            svc.metrics.jobs_processed.labels("retry").inc()
            job_log.warning("job_id=%s kind=%s attempt %d/%d failed, will retry: %s",
                            job["id"], job["kind"], attempt, self.config.job_max_attempts, err)
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout)


class AgentService:
    def __init__(self, config: Config):
        self.config = config
        self.version = get_version()
        self.metrics = Metrics()
        self.state = SharedState(config.state_dir)
        self.runtime = RuntimeMonitor(self.state, config)
        self.store = make_store(config)
        self.store_ready = False
        self._store_lock = threading.Lock()
        self.tracer = Tracer(config.trace_dir, config.trace)
        self.tools = ToolManager(config.dynamic_tools_dir, self.metrics) if config.dynamic_tools_dir else None
        self.leader = LeaderLock(os.path.join(os.path.abspath(config.state_dir), "leader.lock"))
        self.worker = JobWorker(self) if config.role == "worker" else None
        self.started = time.monotonic()
        self.stop_event: Optional[asyncio.Event] = None
        self.tasks: list = []
        self._health_failing = False
        self.collector = StateCollector(
            info={"version": self.version, "environment": config.environment, "role": config.role,
                  "store": config.store},
            read_state=self.state.read,
            queue_stats=self._queue_stats,
            tokens_used=self._tokens_used,
            token_budget=config.token_budget,
            tool_count=self.tools.count if self.tools else None,
        )

    # -- store -------------------------------------------------------------------
    def ensure_store(self) -> None:
        if self.store_ready:
            return
        with self._store_lock:
            if not self.store_ready:
                self.store.init()
                self.store_ready = True

    def _check_store_fault(self) -> None:
        if self.state.get_fault().get("store_down"):
            raise StoreError("store_down fault switch is on")

    def _queue_stats(self):
        self._check_store_fault()
        self.ensure_store()
        return self.store.queue_stats()

    def _tokens_used(self):
        return self.store.tokens_used_this_month()

    # -- lifecycle -------------------------------------------------------------------
    def startup_sync(self) -> None:
        cfg = self.config
        self.state.ensure()
        self.tracer.ensure()
        if self.tools:
            self.tools.ensure()
        try:
            self.ensure_store()
            self.store.check()
        except StoreSetupError:
            raise
        except StoreError as exc:
            if cfg.profile.fail_fast:
                raise
            log.error("store unavailable at start (%s); serving /health as 503 until it is back", exc)
        log.info("EL has started! agent-app %s environment=%s role=%s store=%s pid=%d",
                 self.version, cfg.environment, cfg.role, cfg.store, os.getpid())
        log.debug("profile: %s", cfg.profile.as_dict())

    async def startup(self) -> None:
        await run_in_threadpool(self.startup_sync)
        self.stop_event = asyncio.Event()
        if self.worker is not None:
            self.worker.start()
        else:
            self.tasks.append(asyncio.create_task(self._spontaneous_loop()))
        if self.tools and self.config.tools_traffic_interval > 0:
            self.tasks.append(asyncio.create_task(self._traffic_loop()))

    async def shutdown(self) -> None:
        log.info("graceful shutdown: stopping background tasks (pid %d)", os.getpid())
        if self.stop_event is not None:
            self.stop_event.set()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.worker is not None:
            await run_in_threadpool(self.worker.shutdown)
        self.leader.release()
        await run_in_threadpool(self.store.close)
        self.metrics.mark_process_dead()
        log.info("graceful shutdown complete (pid %d)", os.getpid())

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the service is stopping."""
        try:
            await asyncio.wait_for(self.stop_event.wait(), timeout=seconds)
            return True
        except asyncio.TimeoutError:
            return False

    async def _spontaneous_loop(self) -> None:
        profile = self.config.profile
        agents = ("SPECTRA", "LYNQ", "PAZ")
        n = 0
        while not await self._sleep(profile.spontaneous_interval_s):
            if not self.leader.is_leader():
                continue
            if random.random() < profile.spontaneous_probability:
                n += 1
                self.metrics.spontaneous.inc()
                log.info("自発発言 (spontaneous speech) #%d by %s in lounge (interval %.0fs, probability %.2f)",
                         n, agents[n % 3], profile.spontaneous_interval_s, profile.spontaneous_probability)
            else:
                log.debug("自発発言 skipped this interval (probability %.2f)", profile.spontaneous_probability)

    async def _traffic_loop(self) -> None:
        while not await self._sleep(self.config.tools_traffic_interval):
            if not self.leader.is_leader():
                continue
            fault = await run_in_threadpool(self.state.next_fault_decision, "traffic")
            try:
                await run_in_threadpool(self.tools.traffic_tick, fault)
            except OSError as exc:
                log.error("dynamic tools traffic failed: %s", exc)

    # -- health -------------------------------------------------------------------
    def health(self) -> tuple:
        cfg = self.config
        body = {
            "status": "ok",
            "version": self.version,
            "environment": cfg.environment,
            "role": cfg.role,
            "store": cfg.store,
            "profile": cfg.profile.as_dict(),
            "pid": os.getpid(),
            "uptime_seconds": round(time.monotonic() - self.started, 1),
        }
        if cfg.fail_health:
            body.update(status="error", reason="forced by AGENT_FAIL_HEALTH", components={})
            return 503, body
        components = {}
        try:
            state = self.state.read()
        except OSError as exc:
            state = None
            components["state"] = f"error: {exc}"
        if state is not None and state["fault"].get("store_down"):
            components["store"] = "error: store_down fault switch is on"
        else:
            init_error = None
            try:
                self.ensure_store()
            except (StoreError, StoreSetupError) as exc:
                init_error = f"error: {exc}"
            components.update(self.store.health())
            if init_error and components.get("store") == "ok":
                components["store"] = init_error
        if self.worker is not None:
            age = time.monotonic() - self.worker.heartbeat
            alive = self.worker.thread is not None and self.worker.thread.is_alive()
            # a job may sleep up to 60 s (work_ms), so allow more than that
            limit = max(90.0, self.config.worker_poll_interval * 3 + 10)
            components["worker"] = "ok" if alive and age < limit else f"error: job loop stalled ({age:.0f}s)"
        failing = {k: v for k, v in components.items() if v != "ok"}
        if self.tools:
            try:
                _tools, corrupted = self.tools.list_tools()
                components["dynamic_tools"] = "ok" if not corrupted else \
                    f"degraded: {len(corrupted)} corrupted definition(s): {', '.join(corrupted)}"
            except OSError as exc:
                components["dynamic_tools"] = f"degraded: {exc}"
        body["components"] = components
        if state is not None:
            body["fallback_enabled"] = bool(state["fallback"].get("enabled"))
            body["fault"] = {k: state["fault"].get(k) for k in ("error_rate", "extra_latency_ms", "store_down")}
        if failing:
            body["status"] = "error"
            body["reason"] = "; ".join(f"{k}: {v}" for k, v in failing.items())
            if not self._health_failing:
                log.warning("[RuntimeAdapter] 健康检查失败 (health check failed): %s", body["reason"])
            self._health_failing = True
            return 503, body
        if self._health_failing:
            log.info("[RuntimeAdapter] health check recovered")
        self._health_failing = False
        return 200, body

    # -- turns -------------------------------------------------------------------
    def execute_turn(self, thread_id: str, text: str, requested_mode: str, user: Optional[str],
                     created_at: _dt.datetime) -> tuple:
        decision = self.state.next_fault_decision("turns")
        mode = "direct_llm" if decision["fallback_enabled"] else requested_mode
        start = time.perf_counter()
        self.tracer.emit("Orchestrator", "turn.start", pipeline_stage="stage01_intake",
                         thread_id=thread_id, mode=mode, requested_mode=requested_mode)
        self.metrics.inflight.inc()
        status, err, result = 200, None, None
        try:
            if decision["extra_latency_ms"]:
                time.sleep(decision["extra_latency_ms"] / 1000)
            if decision["fail"]:
                raise InjectedFault(f"error_rate={decision['error_rate']} (turn #{decision['counter']})")
            if decision["store_down"]:
                raise StoreError("store_down fault switch is on")
            self.ensure_store()
            result = self.store.process_turn(thread_id, text, mode, user, created_at, lambda slots, last:
                                             plan_turn(text, slots, last))
        except InjectedFault as exc:
            status, err = 500, f"InjectedFault: {exc}"
        except (StoreError, StoreSetupError) as exc:
            status, err = 503, f"StoreUnavailable: {exc}"
        finally:
            self.metrics.inflight.dec()
        elapsed = time.perf_counter() - start
        elapsed_ms = elapsed * 1000
        m = self.metrics
        m.chat_execution.labels(mode).inc()
        m.chat_latency.labels(mode).observe(elapsed_ms)
        m.turn_latency.observe(elapsed)
        if err is not None:
            m.chat_error.labels(mode).inc()
            chat_log.error("[Chat] [RuntimeAdapter] Runtime 执行失败 (execution failed) mode=%s thread=%s "
                           "耗时: %dms 错误: %s", mode, thread_id, elapsed_ms, err)
            self.tracer.emit("Orchestrator", "turn.error", pipeline_stage="stage01_intake",
                             thread_id=thread_id, mode=mode, error=err, latency_ms=round(elapsed_ms, 2))
            self.runtime.record(mode, False, err)
            return status, {"error": err, "mode": mode, "thread_id": thread_id,
                            "latency_ms": round(elapsed_ms, 2)}

        plan = result.plan
        m.chat_success.labels(mode).inc()
        m.qgen.inc()
        if not plan.qcheck_passed:
            m.qcheck_failed.inc()
        for stage, count in plan.duplicates.items():
            if count:
                m.slot_duplicates.labels(stage).inc(count)
        self.runtime.record(mode, True, coverage=plan.coverage, checks=plan.checks,
                            duplicates=plan.duplicates)
        for ev in plan.slot_events:
            self.tracer.emit("SlotRegistry", "slot.duplicate" if ev.duplicate else "slot.fill",
                             pipeline_stage=ev.stage, slot=ev.slot, value=ev.value, thread_id=thread_id,
                             turn=result.turn)
        self.tracer.emit("QCheck", "qcheck.pass" if plan.qcheck_passed else "qcheck.fail",
                         pipeline_stage=QCHECK_STAGE, thread_id=thread_id, turn=result.turn,
                         question=plan.question or plan.slot_updates.get(("stage06_qgen", "question")),
                         qcheck_fail_reason=plan.qcheck_fail_reason)
        self.tracer.emit("Orchestrator", "turn.end", pipeline_stage=QCHECK_STAGE, thread_id=thread_id,
                         turn=result.turn, mode=mode, latency_ms=round(elapsed_ms, 2),
                         slot_coverage=plan.coverage)
        chat_log.info("[RuntimeAdapter] 执行完成 (execution finished) mode=%s thread=%s turn=%d qcheck=%s "
                      "耗时: %dms; message processed successfully", mode, thread_id, result.turn,
                      "pass" if plan.qcheck_passed else plan.qcheck_fail_reason, elapsed_ms)
        chat_log.debug("turn detail thread=%s slots=%s coverage=%s", thread_id,
                       {f"{s}.{n}": v for (s, n), v in plan.slot_updates.items()}, plan.coverage)
        return 200, {
            "thread_id": thread_id,
            "session_id": result.session_id,
            "turn": result.turn,
            "created_session": result.created,
            "user_message_id": result.user_message_id,
            "reply_message_id": result.reply_message_id,
            "reply": plan.reply,
            "mode": mode,
            "requested_mode": requested_mode,
            "question": plan.question,
            "qcheck": {"passed": plan.qcheck_passed, "reason": plan.qcheck_fail_reason},
            "slots_filled": [{"pipeline_stage": e.stage, "slot": e.slot, "value": e.value}
                             for e in plan.slot_events if not e.duplicate],
            "duplicates": [{"pipeline_stage": e.stage, "slot": e.slot, "value": e.value}
                           for e in plan.slot_events if e.duplicate]
            + ([{"pipeline_stage": QCHECK_STAGE, "slot": "question",
                 "value": plan.slot_updates[("stage06_qgen", "question")]}]
               if plan.duplicates.get(QCHECK_STAGE) else []),
            "slot_coverage": plan.coverage,
            "tokens": plan.tokens,
            "latency_ms": round(elapsed_ms, 2),
        }


# -- request helpers ----------------------------------------------------------------------
async def json_body(request: Request):
    try:
        body = await request.json()
    except ValueError:
        return None, error(400, "request body must be JSON")
    if not isinstance(body, dict):
        return None, error(400, "request body must be a JSON object")
    return body, None


def svc(request: Request) -> AgentService:
    return request.app.state.service


def require_admin(request: Request) -> Optional[Response]:
    token = svc(request).config.admin_token
    if not token:
        return error(503, "admin endpoints are disabled: ADMIN_TOKEN is not set")
    header = request.headers.get("authorization", "")
    scheme, _sep, supplied = header.partition(" ")
    if scheme.lower() != "bearer" or not supplied:
        return error(401, "missing bearer token")
    if not hmac.compare_digest(supplied.strip().encode("utf-8"), token.encode("utf-8")):
        return error(401, "invalid bearer token")
    return None


# -- endpoints ------------------------------------------------------------------------------
async def index(request: Request):
    s = svc(request)
    return JSONResponse({"service": "agent-app", "version": s.version, "role": s.config.role,
                         "environment": s.config.environment, "health": "/health", "metrics": "/metrics"})


async def health(request: Request):
    status, body = await run_in_threadpool(svc(request).health)
    return JSONResponse(body, status_code=status)


async def metrics(request: Request):
    s = svc(request)
    data = await run_in_threadpool(s.metrics.exposition, s.collector)
    return Response(data, media_type=CONTENT_TYPE)


async def post_turn(request: Request):
    body, bad = await json_body(request)
    if bad:
        return bad
    s = svc(request)
    thread = body.get("thread_id", body.get("session_id"))
    if isinstance(thread, bool) or not isinstance(thread, (str, int)) or str(thread).strip() == "":
        return error(400, "thread_id (or session_id) is required")
    thread = str(thread).strip()
    if len(thread) > 200:
        return error(400, "thread_id is longer than 200 characters")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return error(400, "text is required")
    if len(text) > MAX_TEXT:
        return error(400, f"text is longer than {MAX_TEXT} characters")
    mode = body.get("mode") or s.config.chat_execution_mode
    if mode not in MODES:
        return error(400, f"mode must be one of {', '.join(MODES)}")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        return error(400, "user must be a string")
    created_at = _dt.datetime.now(_dt.timezone.utc)
    if body.get("timestamp") is not None:
        try:
            created_at = parse_ts(str(body["timestamp"]))
        except ValueError:
            return error(400, "timestamp must be an ISO 8601 date-time")
    status, result = await run_in_threadpool(s.execute_turn, thread, text, mode, user, created_at)
    return JSONResponse(result, status_code=status)


async def _store_call(s: AgentService, fn, *args):
    """Run a store call; 503 JSON when the store is down (or the fault switch says so)."""
    def call():
        s._check_store_fault()
        s.ensure_store()
        return fn(*args)
    try:
        return await run_in_threadpool(call), None
    except (StoreError, StoreSetupError) as exc:
        return None, error(503, f"store unavailable: {exc}")


async def get_session(request: Request):
    s = svc(request)
    session, bad = await _store_call(s, s.store.get_session, request.path_params["thread_id"])
    if bad:
        return bad
    if session is None:
        return error(404, "session not found")
    return JSONResponse(session)


async def store_stats(request: Request):
    s = svc(request)
    stats, bad = await _store_call(s, s.store.stats)
    if bad:
        return bad
    return JSONResponse({"store": s.config.store, "counts": stats})


async def post_job(request: Request):
    body, bad = await json_body(request)
    if bad:
        return bad
    s = svc(request)
    kind = body.get("kind", "task")
    queue = body.get("queue", DEFAULT_QUEUE)
    payload = body.get("payload", {})
    tokens = body.get("tokens", 0)
    if not isinstance(kind, str) or not kind or not isinstance(queue, str) or not queue:
        return error(400, "kind and queue must be non-empty strings")
    if not isinstance(payload, dict):
        return error(400, "payload must be a JSON object")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        return error(400, "tokens must be a non-negative integer")
    job, bad = await _store_call(s, s.store.enqueue_job, queue, kind, payload, tokens)
    if bad:
        return bad
    log.info("job_id=%s kind=%s enqueued on %s", job["id"], kind, queue)
    return JSONResponse({"job": job}, status_code=202)


def _job_id(request: Request):
    try:
        return int(request.path_params["job_id"]), None
    except ValueError:
        return None, error(400, "job id must be an integer")


async def get_job(request: Request):
    s = svc(request)
    job_id, bad = _job_id(request)
    if bad:
        return bad
    job, bad = await _store_call(s, s.store.get_job, job_id)
    if bad:
        return bad
    return JSONResponse({"job": job}) if job else error(404, "job not found")


async def admin_job_action(request: Request):
    denied = require_admin(request)
    if denied:
        return denied
    s = svc(request)
    job_id, bad = _job_id(request)
    if bad:
        return bad
    action = request.path_params["action"]
    fn = {"requeue": s.store.requeue_job, "cancel": s.store.cancel_job}.get(action)
    if fn is None:
        return error(404, "unknown job action")
    job, bad = await _store_call(s, fn, job_id)
    if bad:
        return bad
    if job is None:
        return error(404, "job not found")
    if not job.pop("changed"):
        return error(409, f"job {job_id} is {job['status']}: cannot {action}", job=job)
    log.warning("job_id=%s %s by admin", job_id, "requeued" if action == "requeue" else "cancelled")
    return JSONResponse({"job": job})


async def admin_fault(request: Request):
    denied = require_admin(request)
    if denied:
        return denied
    s = svc(request)
    if request.method == "GET":
        return JSONResponse(await run_in_threadpool(s.state.get_fault))
    body, bad = await json_body(request)
    if bad:
        return bad
    unknown = set(body) - {"error_rate", "extra_latency_ms", "store_down"}
    if unknown:
        return error(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    rate = body.get("error_rate", 0.0)
    latency = body.get("extra_latency_ms", 0)
    store_down = body.get("store_down", False)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        return error(400, "error_rate must be a number between 0 and 1")
    if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 600000:
        return error(400, "extra_latency_ms must be an integer between 0 and 600000")
    if not isinstance(store_down, bool):
        return error(400, "store_down must be true or false")
    fault = await run_in_threadpool(s.state.set_fault, {
        "error_rate": float(rate), "extra_latency_ms": latency, "store_down": store_down})
    log.warning("fault switch set: error_rate=%s extra_latency_ms=%s store_down=%s",
                rate, latency, store_down)
    return JSONResponse(fault)


async def runtime_metrics(request: Request):
    denied = require_admin(request)
    if denied:
        return denied
    s = svc(request)

    def build():
        summary = runtime_summary(s.metrics.samples())
        return {"data": {"runtime": summary, "fallback": s.runtime.status(),
                         "generatedAt": iso_ms(), "version": s.version}}
    return JSONResponse(await run_in_threadpool(build))


async def fallback_status(request: Request):
    denied = require_admin(request)
    if denied:
        return denied
    s = svc(request)
    return JSONResponse({"data": await run_in_threadpool(s.runtime.status)})


async def fallback_reset(request: Request):
    denied = require_admin(request)
    if denied:
        return denied
    s = svc(request)
    previous = await run_in_threadpool(s.runtime.reset)
    status = await run_in_threadpool(s.runtime.status)
    return JSONResponse({"data": dict(status, previous=previous)})


def _tools(request: Request):
    s = svc(request)
    if s.tools is None:
        return None, error(404, "dynamic tools are disabled (AGENT_DYNAMIC_TOOLS_DIR is not set)")
    return s.tools, None


async def tools_collection(request: Request):
    tools, bad = _tools(request)
    if bad:
        return bad
    if request.method == "GET":
        listed, corrupted = await run_in_threadpool(tools.list_tools)
        name = request.query_params.get("name")
        try:
            min_score = float(request.query_params.get("min_safety_score", "0"))
        except ValueError:
            return error(400, "min_safety_score must be a number")
        items = [ToolManager.summary(t) for t in listed
                 if (name is None or t.get("name") == name) and float(t.get("safetyScore") or 0) >= min_score]
        return JSONResponse({"tools": items, "count": len(items), "corrupted": corrupted})
    body, bad = await json_body(request)
    if bad:
        return bad
    try:
        tool = await run_in_threadpool(tools.create, body, body.get("actor") or "api")
    except ToolError as exc:
        return error(exc.status, exc.message, **exc.payload)
    return JSONResponse({"tool": {k: v for k, v in tool.items() if not k.startswith("_")}},
                        status_code=201)


async def tool_item(request: Request):
    tools, bad = _tools(request)
    if bad:
        return bad
    name = request.path_params["name"]
    if request.method == "GET":
        tool = await run_in_threadpool(tools.find, name)
        if tool is None:
            return error(404, f"tool not found: {name}")
        return JSONResponse({"tool": {k: v for k, v in tool.items() if not k.startswith("_")}})
    try:
        result = await run_in_threadpool(tools.delete, name, request.query_params.get("actor") or "api")
    except ToolError as exc:
        return error(exc.status, exc.message)
    return JSONResponse(result)


async def tool_run(request: Request):
    tools, bad = _tools(request)
    if bad:
        return bad
    s = svc(request)
    body, bad = await json_body(request)
    if bad:
        return bad
    params = body.get("parameters", {})
    if not isinstance(params, dict):
        return error(400, "parameters must be a JSON object")

    def run():
        fault = s.state.next_fault_decision("tools")
        return tools.run(request.path_params["name"], params, fault, body.get("actor") or "api")
    try:
        outcome = await run_in_threadpool(run)
    except ToolError as exc:
        return error(exc.status, exc.message)
    return JSONResponse(outcome["body"], status_code=outcome["status"])


def routes(role: str) -> list:
    common = [
        Route("/", index),
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/api/v1/jobs", post_job, methods=["POST"]),
        Route("/api/v1/jobs/{job_id}", get_job),
        Route("/api/v1/admin/jobs/{job_id}/{action}", admin_job_action, methods=["POST"]),
        Route("/api/v1/admin/fault", admin_fault, methods=["GET", "POST"]),
        Route("/api/v1/store/stats", store_stats),
    ]
    if role == "worker":
        return common
    return common + [
        Route("/api/v1/turns", post_turn, methods=["POST"]),
        Route("/api/v1/sessions/{thread_id}", get_session),
        Route("/api/v1/runtime/metrics", runtime_metrics),
        Route("/api/v1/runtime/fallback/status", fallback_status),
        Route("/api/v1/runtime/fallback/reset", fallback_reset, methods=["POST"]),
        Route("/api/v1/tools", tools_collection, methods=["GET", "POST"]),
        Route("/api/v1/tools/{name}", tool_item, methods=["GET", "DELETE"]),
        Route("/api/v1/tools/{name}/run", tool_run, methods=["POST"]),
    ]


def create_app(config: Optional[Config] = None, configure_logging: bool = True) -> Starlette:
    """uvicorn factory: ``uvicorn --factory agent_app.app:create_app``."""
    config = config or load_config()
    if configure_logging:
        setup_logging(config.log_file, config.effective_log_level)
    service = AgentService(config)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await service.startup()
        try:
            yield
        finally:
            await service.shutdown()

    app = Starlette(routes=routes(config.role), lifespan=lifespan)
    app.state.service = service
    return app


def create_worker_app() -> Starlette:
    """uvicorn factory of the queue worker (``AGENT_ROLE`` forced to ``worker``)."""
    return create_app(load_config(role="worker"))
