"""Fixtures for the agent service tests (run from the repository root:
``.venv/bin/pytest examples/agent_app/tests -q``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

APP_ROOT = Path(__file__).resolve().parents[1]
if str(APP_ROOT) not in sys.path:
    sys.path.insert(0, str(APP_ROOT))

# In-process apps use prometheus_client's single-process mode; the multi-worker
# test starts a real server whose CLI sets PROMETHEUS_MULTIPROC_DIR itself.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
os.environ.pop("prometheus_multiproc_dir", None)

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from agent_app.app import create_app  # noqa: E402
from agent_app.config import load_config  # noqa: E402

ADMIN_TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def base_env(root: Path, **extra) -> dict:
    env = {
        "ENVIRONMENT": "test",
        "AGENT_BIND": "127.0.0.1",
        "EL_SQLITE_PATH": str(root / "data" / "el_sessions.db"),
        "AGENT_STATE_DIR": str(root / "state"),
        "AGENT_LOG_FILE": str(root / "logs" / "agent.log"),
        "EL_TRACE_DIR": str(root / "logs" / "wal"),
        "ADMIN_TOKEN": ADMIN_TOKEN,
    }
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    for key in [k for k, v in extra.items() if v is None]:
        env.pop(key, None)
    return env


@pytest.fixture
def make_client(tmp_path):
    """``make_client(**env)`` -> a started TestClient; closed at teardown."""
    clients = []

    def factory(root: Path | None = None, **env):
        config = load_config(base_env(root or tmp_path, **env))
        client = TestClient(create_app(config))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


def samples(text: str) -> dict:
    """{(sample name, frozenset(labels)): value} and the families' types."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(text_or_samples, name: str, **labels) -> float:
    data = samples(text_or_samples) if isinstance(text_or_samples, str) else text_or_samples
    return data.get((name, frozenset(labels.items())), 0.0)


def turn(client, thread="t1", text="The payment service had an outage yesterday", **extra):
    body = {"thread_id": thread, "text": text}
    body.update(extra)
    return client.post("/api/v1/turns", json=body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The real ``agent-app`` CLI in a subprocess on 127.0.0.1."""

    def __init__(self, root: Path, command: str = "serve", **env):
        self.port = free_port()
        self.root = root
        full_env = dict(os.environ)
        full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        full_env.update(base_env(root, AGENT_PORT=self.port, **env))
        full_env["PYTHONPATH"] = str(APP_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = open(root / f"{command}-{self.port}.out", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "agent_app", command], env=full_env,
                                     stdout=self.out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 20.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready: {self.output()}")

    def output(self) -> str:
        self.out.flush()
        self.out.seek(0)
        return self.out.read()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
