"""Dynamic tools (runbook 004): definitions in ``<dir>/.pi/tools/dt_<id>.json``,
audit log ``<dir>/.pi/logs/dynamic-tools-audit.jsonl``.

Audit entries have the runbook's shape (compact JSON, one line each)::

    {"id":"audit_…","timestamp":"2024-01-15T10:30:00.000Z","action":"tool.run",
     "toolId":"dt_…","toolName":"json_formatter","actor":"system",
     "details":{"executionTimeMs":150,"parameters":{…}},"success":true,"errorMessage":null}

Actions: ``verification.pass`` / ``verification.fail`` (details: safetyScore,
verificationResult, reason, findings, warning), ``tool.create`` (details:
description, parameters, code, safetyScore — enough to re-create a tool whose
file was lost), ``tool.run`` (details: executionTimeMs, parameters) and
``tool.delete``. Tool code is never executed: a run is simulated
deterministically (``simulate_ms`` parameter sleeps, the fault switch fails).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import logging
import os
import re
import tempfile
import time
import uuid
from typing import Dict, List, Optional, Tuple

from .appendlog import append_line, json_line
from .state import iso_ms

log = logging.getLogger("agent_app.tools")

MAX_TOOLS = 100
DEFAULT_TIMEOUT_MS = 30000
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
AUDIT_FILE = "dynamic-tools-audit.jsonl"

# (pattern, penalty, description); critical patterns fail verification.
CRITICAL_PATTERNS = (
    ("child_process", "spawns processes"),
    ("eval(", "dynamic code evaluation"),
    ("new Function(", "dynamic code evaluation"),
    ("rm -rf", "destructive shell command"),
)
RISKY_PATTERNS = (
    ("require(", 0.2, "loads modules"),
    ("process.env", 0.2, "reads the environment"),
    ("fs.", 0.2, "file system access"),
    ("fetch(", 0.1, "network access"),
    ("while (true)", 0.2, "unbounded loop"),
    ("while(true)", 0.2, "unbounded loop"),
    ("process.exit", 0.3, "terminates the process"),
)
WARNING_SCORE = 0.5


class ToolError(Exception):
    def __init__(self, status: int, message: str, payload: Optional[dict] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.payload = payload or {}


def analyse_safety(code: str) -> Tuple[float, List[str], List[str]]:
    """(score 0..1, critical findings, other findings) from static patterns."""
    score = 1.0
    critical, findings = [], []
    for pattern, what in CRITICAL_PATTERNS:
        if pattern in code:
            critical.append(f"{pattern.strip('(')}: {what}")
            score -= 0.6
    for pattern, penalty, what in RISKY_PATTERNS:
        if pattern in code:
            findings.append(f"{pattern.strip('(')}: {what}")
            score -= penalty
    return round(min(1.0, max(0.0, score)), 2), critical, findings


class ToolManager:
    def __init__(self, base_dir: str, metrics=None):
        self.base_dir = os.path.abspath(base_dir)
        self.pi_dir = os.path.join(self.base_dir, ".pi")
        self.tools_dir = os.path.join(self.pi_dir, "tools")
        self.logs_dir = os.path.join(self.pi_dir, "logs")
        self.audit_path = os.path.join(self.logs_dir, AUDIT_FILE)
        self.lock_path = os.path.join(self.pi_dir, ".tools.lock")
        self.metrics = metrics

    # -- files -----------------------------------------------------------------
    def ensure(self) -> None:
        os.makedirs(self.tools_dir, exist_ok=True)
        os.makedirs(self.logs_dir, exist_ok=True)
        os.close(os.open(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))

    @contextlib.contextmanager
    def _locked(self):
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _files(self) -> List[str]:
        return sorted(p for p in glob.glob(os.path.join(self.tools_dir, "dt_*.json")) if os.path.isfile(p))

    def count(self) -> int:
        return len(self._files())

    def list_tools(self) -> Tuple[List[dict], List[str]]:
        tools, corrupted = [], []
        for path in self._files():
            try:
                with open(path, encoding="utf-8") as handle:
                    tool = json.load(handle)
                if not isinstance(tool, dict) or "name" not in tool:
                    raise ValueError("not a tool definition")
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                corrupted.append(os.path.basename(path))
                continue
            tool["_path"] = path
            tools.append(tool)
        tools.sort(key=lambda t: t.get("name", ""))
        return tools, corrupted

    def find(self, name: str) -> Optional[dict]:
        for tool in self.list_tools()[0]:
            if tool.get("name") == name:
                return tool
        return None

    def _write(self, tool: dict) -> str:
        path = os.path.join(self.tools_dir, f"{tool['id']}.json")
        data = {k: v for k, v in tool.items() if not k.startswith("_")}
        fd, tmp = tempfile.mkstemp(prefix=f".{tool['id']}.", suffix=".tmp", dir=self.tools_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    # -- audit -------------------------------------------------------------------
    def audit(self, action: str, tool_id: Optional[str], tool_name: Optional[str], success: bool,
              error: Optional[str] = None, details: Optional[dict] = None, actor: str = "system") -> dict:
        entry = {
            "id": "audit_" + uuid.uuid4().hex[:12],
            "timestamp": iso_ms(),
            "action": action,
            "toolId": tool_id,
            "toolName": tool_name,
            "actor": actor,
            "details": details or {},
            "success": success,
            "errorMessage": error,
        }
        try:
            append_line(self.audit_path, json_line(entry))
        except OSError as exc:
            log.error("dynamic tools audit log write failed (%s): %s", self.audit_path, exc)
        return entry

    # -- operations -------------------------------------------------------------------
    def create(self, payload: dict, actor: str = "system") -> dict:
        name = payload.get("name")
        code = payload.get("code")
        description = payload.get("description") or ""
        parameters = payload.get("parameters") or {}
        timeout_ms = payload.get("timeout_ms", payload.get("timeoutMs", DEFAULT_TIMEOUT_MS))
        problems = []
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append("name must match ^[a-z][a-z0-9_]{1,63}$")
        if not isinstance(code, str) or "execute" not in code:
            problems.append("code must be a string defining execute(params)")
        if not isinstance(description, str):
            problems.append("description must be a string")
        if not isinstance(parameters, dict):
            problems.append("parameters must be an object")
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or not 1 <= timeout_ms <= 300000:
            problems.append("timeout_ms must be an integer between 1 and 300000")
        safe_name = name if isinstance(name, str) else None
        if problems:
            message = "invalid tool definition: " + "; ".join(problems)
            self.audit("tool.create", None, safe_name, False, message, actor=actor)
            raise ToolError(400, message)

        with self._locked():
            tools, _corrupted = self.list_tools()
            if any(t.get("name") == name for t in tools):
                message = f"tool name already exists: {name}"
                self.audit("tool.create", None, name, False, message, actor=actor)
                raise ToolError(409, message)
            if len(tools) >= MAX_TOOLS:
                message = f"maximum tool count reached ({MAX_TOOLS}): delete unused tools first"
                self.audit("tool.create", None, name, False, message, actor=actor)
                raise ToolError(409, message)

            tool_id = "dt_" + uuid.uuid4().hex[:12]
            score, critical, findings = analyse_safety(code)
            if critical:
                reason = "security risk: " + "; ".join(critical)
                self.audit("verification.fail", tool_id, name, False, reason, details={
                    "verificationResult": "fail", "safetyScore": score, "reason": reason,
                    "findings": critical + findings}, actor=actor)
                self.audit("tool.create", tool_id, name, False, reason,
                           details={"safetyScore": score}, actor=actor)
                raise ToolError(422, reason, {"safetyScore": score, "findings": critical + findings})

            warning = None
            if score < WARNING_SCORE:
                warning = f"low safety score {score:.2f}: " + "; ".join(findings)
            now = iso_ms()
            tool = {
                "id": tool_id, "name": name, "description": description, "code": code,
                "parameters": parameters, "timeoutMs": timeout_ms, "safetyScore": score,
                "safetyFindings": findings,
                "verification": {"result": "pass", "verifiedAt": now, "warning": warning},
                "createdAt": now, "updatedAt": now, "createdBy": actor, "version": 1,
                "usageCount": 0, "successCount": 0, "failureCount": 0, "lastUsedAt": None,
            }
            verification = {"verificationResult": "pass", "safetyScore": score, "findings": findings,
                            "reason": "no critical pattern found"}
            if warning:
                verification["warning"] = warning
            self.audit("verification.pass", tool_id, name, True, details=verification, actor=actor)
            path = self._write(tool)
            self.audit("tool.create", tool_id, name, True, details={
                "description": description, "parameters": parameters, "code": code,
                "timeoutMs": timeout_ms, "safetyScore": score, "file": os.path.basename(path)},
                actor=actor)
        log.info("dynamic tool created: %s (%s, safety score %.2f)", name, tool_id, score)
        tool["file"] = os.path.basename(path)
        return tool

    def run(self, name: str, params: dict, fault: dict, actor: str = "system") -> dict:
        start = time.monotonic()
        tool = self.find(name)
        if tool is None:
            message = f"tool not found: {name}"
            self.audit("tool.run", None, name, False, message,
                       details={"executionTimeMs": 0, "parameters": params}, actor=actor)
            self._count(False)
            raise ToolError(404, message)

        status, error, output = 200, None, None
        execution_ms = None
        if fault.get("extra_latency_ms"):
            time.sleep(fault["extra_latency_ms"] / 1000)
        schema = tool.get("parameters") or {}
        required = schema.get("required", []) if isinstance(schema, dict) else []
        missing = [p for p in required if p not in params]
        simulate_ms = params.get("simulate_ms", 0)
        timeout_ms = int(tool.get("timeoutMs") or DEFAULT_TIMEOUT_MS)
        if missing:
            status, error = 400, "missing required parameter(s): " + ", ".join(missing)
        elif not isinstance(simulate_ms, (int, float)) or isinstance(simulate_ms, bool) or simulate_ms < 0:
            status, error = 400, "simulate_ms must be a non-negative number"
        elif simulate_ms > timeout_ms:
            status, error = 500, f"execution timed out after {timeout_ms} ms"
            execution_ms = timeout_ms  # simulated: the run is cut at its timeout
        else:
            if simulate_ms:
                time.sleep(simulate_ms / 1000)
            if fault.get("fail"):
                status, error = 500, f"injected fault (error_rate={fault.get('error_rate')})"
            else:
                digest = hashlib.sha256((tool.get("code", "") + json.dumps(params, sort_keys=True))
                                        .encode("utf-8")).hexdigest()[:16]
                output = {"tool": name, "echo": params, "digest": digest}
        if execution_ms is None:
            execution_ms = int(round((time.monotonic() - start) * 1000))
        success = error is None
        self.audit("tool.run", tool["id"], name, success, error,
                   details={"executionTimeMs": execution_ms, "parameters": params}, actor=actor)
        self._count(success)
        with self._locked():
            current = self.find(name)
            if current is not None and current.get("id") == tool["id"]:
                current["usageCount"] = int(current.get("usageCount", 0)) + 1
                key = "successCount" if success else "failureCount"
                current[key] = int(current.get(key, 0)) + 1
                current["lastUsedAt"] = iso_ms()
                try:
                    self._write(current)
                except OSError as exc:
                    log.error("cannot update usage of tool %s: %s", name, exc)
        if not success:
            log.error("dynamic tool run failed: %s: %s", name, error)
        result = {"success": success, "toolId": tool["id"], "toolName": name,
                  "executionTimeMs": execution_ms}
        if success:
            result["output"] = output
        else:
            result["error"] = error
        return {"status": status, "body": result}

    def delete(self, name: str, actor: str = "system") -> dict:
        with self._locked():
            tool = self.find(name)
            if tool is None:
                message = f"tool not found: {name}"
                self.audit("tool.delete", None, name, False, message, actor=actor)
                raise ToolError(404, message)
            os.unlink(tool["_path"])
            self.audit("tool.delete", tool["id"], name, True, details={
                "safetyScore": tool.get("safetyScore"), "usageCount": tool.get("usageCount", 0),
                "file": os.path.basename(tool["_path"])}, actor=actor)
        log.info("dynamic tool deleted: %s (%s)", name, tool["id"])
        return {"deleted": True, "toolId": tool["id"], "toolName": name}

    def traffic_tick(self, fault: dict) -> None:
        """One background run (``AGENT_TOOLS_TRAFFIC_INTERVAL``): the first tool by
        name, or a ``_traffic_probe`` tool.run entry when no tool exists."""
        tools, _corrupted = self.list_tools()
        if tools:
            try:
                self.run(tools[0]["name"], {"source": "traffic"}, fault, actor="traffic")
            except ToolError:
                pass
        else:
            self.audit("tool.run", None, "_traffic_probe", True,
                       details={"executionTimeMs": 0, "parameters": {}, "note": "no tool defined"},
                       actor="traffic")

    def _count(self, success: bool) -> None:
        if self.metrics is not None:
            self.metrics.tool_runs.labels("success" if success else "failure").inc()

    @staticmethod
    def summary(tool: dict) -> Dict:
        return {k: tool.get(k) for k in (
            "id", "name", "description", "parameters", "timeoutMs", "safetyScore", "createdAt",
            "usageCount", "successCount", "failureCount", "lastUsedAt")} | {
            "file": os.path.basename(tool.get("_path", "")) or None}
