"""Shared fixtures for integration tests on the local container hosts.

These tests need a Docker engine and the hosts of inventories/local
(`make hosts`, `make deploy`); `make integration` and `make test` provide both.
Every test here is marked `integration`.
"""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
LOCAL_HOSTS = {
    "el_bot": "opskit-el-bot",
    "multi_agent": "opskit-multi-agent",
    "runtime": "opskit-runtime",
    "dynamic_tools": "opskit-dynamic-tools",
    "agent_framework": "opskit-agent-framework",
    "observability": "opskit-observability",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def _secrets():
    env = {}
    path = os.path.join(ROOT, ".cache", "secrets.env")
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                key, _unused, value = line.strip().partition("=")
                if key and not key.startswith("#"):
                    env[key] = value
    return env


@pytest.fixture(scope="session")
def opskit_env():
    """Environment for ansible-playbook: the venv first on PATH, the repo's ansible.cfg, the local secrets."""
    env = dict(os.environ)
    env.update(_secrets())
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


@pytest.fixture(scope="session")
def admin_token(opskit_env):
    token = opskit_env.get("OPSKIT_ADMIN_TOKEN")
    assert token, "OPSKIT_ADMIN_TOKEN missing: run `make secrets`"
    return token


class PlaybookResult:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def output(self):
        return self.stdout + self.stderr

    def __repr__(self):
        return "PlaybookResult(rc=%d)\n%s" % (self.rc, self.output[-6000:])


@pytest.fixture(scope="session")
def run_playbook(opskit_env):
    """Run a playbook of the repository; returns PlaybookResult (never raises on failure)."""

    def _run(playbook, *args, extra_env=None, timeout=900, inventory=None):
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, playbook)]
        if inventory:
            cmd += ["-i", os.path.join(ROOT, inventory)]
        cmd += list(args)
        env = dict(opskit_env)
        env.update(extra_env or {})
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        return PlaybookResult(proc)

    return _run


def docker_exec(host, *cmd, check=True, input_text=None):
    proc = subprocess.run(["docker", "exec", "-i", host] + list(cmd), capture_output=True, text=True, check=False,
                          input=input_text)
    if check and proc.returncode != 0:
        raise AssertionError("docker exec %s %s failed (%d): %s" % (host, cmd, proc.returncode, proc.stderr))
    return proc


def host_http(host, method, path, port=8000, body=None, token=None):
    """HTTP request made inside the container (curl), returns (status, parsed JSON or text)."""
    args = ["curl", "-sS", "-o", "/dev/stdout", "-w", "\n%{http_code}", "-X", method,
            "http://127.0.0.1:%d%s" % (port, path)]
    if token:
        args += ["-H", "Authorization: Bearer %s" % token]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    proc = docker_exec(host, *args, check=False, input_text=json.dumps(body) if body is not None else None)
    text, _unused, code = proc.stdout.rpartition("\n")
    try:
        payload = json.loads(text)
    except ValueError:
        payload = text
    return int(code or 0), payload


@pytest.fixture(scope="session")
def local_hosts():
    """The running local hosts; the whole session skips only when no Docker engine exists at all."""
    if shutil.which("docker") is None:
        pytest.skip("no docker client on this machine: the local container hosts cannot exist here")
    missing = []
    for name in LOCAL_HOSTS.values():
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True,
                             check=False)
        if out.stdout.strip() != "true":
            missing.append(name)
    assert not missing, "local hosts not running: %s (run `make hosts deploy`)" % ", ".join(missing)
    return dict(LOCAL_HOSTS)


# Azurite's documented development account (public, not a secret).
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _azurite_binary():
    for candidate in (os.environ.get("OPSKIT_AZURITE_BLOB"),
                      os.path.join(ROOT, ".cache", "azurite", "node_modules", ".bin", "azurite-blob"),
                      shutil.which("azurite-blob")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    binary = _azurite_binary()
    if binary is None:
        pytest.skip("Azurite not installed (npm install --prefix .cache/azurite azurite)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen([binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(workdir),
                             "--skipApiVersionCheck", "--silent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("azurite exited: %s" % proc.stderr.read().decode())
            time.sleep(0.2)
    yield ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
           "BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1;" % (DEV_KEY, port))
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
