"""Backup, restore and restore drills against the local container hosts (inventories/local).

Needs the deployed local hosts (`make demo`: opskit-el-bot, opskit-multi-agent,
opskit-dynamic-tools running the reference service) and the Docker engine.
Runs playbooks/backup.yml, restore.yml and restore_drill.yml with
ansible-playbook, writes data through the reference service's API and reads it
back through the same API.

    .venv/bin/pytest -m integration tests/integration/test_backup_restore.py

Against other containers with the local inventory's groups (for example a copy
deployed next to the shared ones):

    OPSKIT_BACKUP_IT_INVENTORY=/path/hosts.yml OPSKIT_BACKUP_IT_PREFIX=bk- .venv/bin/pytest -m integration ...
"""
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
ANSIBLE = os.path.join(ROOT, ".venv", "bin", "ansible")
# Another inventory with the same groups (and group_vars) can stand in for inventories/local,
# with its hosts named <prefix>el-bot, <prefix>multi-agent, <prefix>dynamic-tools.
INVENTORY = os.environ.get("OPSKIT_BACKUP_IT_INVENTORY", os.path.join(ROOT, "inventories", "local", "hosts.yml"))
PREFIX = os.environ.get("OPSKIT_BACKUP_IT_PREFIX", "opskit-")
EL_BOT, MULTI, TOOLS = PREFIX + "el-bot", PREFIX + "multi-agent", PREFIX + "dynamic-tools"
SERVICE = {EL_BOT: "el-bot", MULTI: "multi-agent", TOOLS: "dynamic-tools"}
SETS = "/var/backups/opskit"


# --------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def env(tmp_path_factory, opskit_env):
    for host in SERVICE:
        state = subprocess.run(["docker", "exec", host, "systemctl", "is-active", SERVICE[host]],
                               capture_output=True, text=True, check=False)
        if state.stdout.strip() != "active":
            pytest.skip("%s does not run %s: deploy the local hosts first (make demo)" % (host, SERVICE[host]))
    out = dict(opskit_env)
    out.setdefault("OPSKIT_BACKUP_VAULT_PASSWORD", secrets.token_hex(16))
    out["OPSKIT_BACKUP_CONTROLLER_DIR"] = str(tmp_path_factory.mktemp("controller-backups"))
    return out


def playbook(env, name, *args, timeout=1800):
    cmd = [PLAYBOOK, "-i", INVENTORY, os.path.join(ROOT, "playbooks", name)] + list(args)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def sh(host, script, check=True):
    proc = subprocess.run(["docker", "exec", host, "sh", "-c", script], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s: %s failed: %s" % (host, script, proc.stderr))
    return proc.stdout


def ip(host):
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", host],
                          capture_output=True, text=True, check=True).stdout.strip()


def api(host, method, path, body=None, port=8000, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://%s:%d%s" % (ip(host), port, path), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def sets_of(host):
    out = sh(host, "ls -1 %s/%s 2>/dev/null || true" % (SETS, host))
    return sorted(n for n in out.split() if n.endswith("Z"))


def complete(host, name):
    return sh(host, "test -f %s/%s/%s/manifest.json && echo yes || echo no" % (SETS, host, name)).strip() == "yes"


def manifest(host, name):
    return json.loads(sh(host, "cat %s/%s/%s/manifest.json" % (SETS, host, name)))


def verify_on_host(env, host, name):
    proc = subprocess.run([ANSIBLE, "-i", INVENTORY, host, "-m", "opskit.ops.backup_manifest",
                           "-a", "action=verify path=%s/%s/%s" % (SETS, host, name)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return proc.returncode == 0, proc.stdout


def write_turns(host, prefix, n):
    threads = []
    for i in range(n):
        thread = "%s-%d" % (prefix, i)
        for text in ("I want to plan a trip to Kyoto in spring %d" % i, "budget is %d yen, two people" % (1000 * i)):
            status, body = api(host, "POST", "/api/v1/turns", {"thread_id": thread, "text": text, "user": "it"})
            assert status in (200, 201), (host, status, body)
        threads.append(thread)
    return threads


def snapshot(host, threads):
    sessions = {}
    for thread in threads:
        status, body = api(host, "GET", "/api/v1/sessions/%s" % thread)
        assert status == 200, (host, thread, status, body)
        sessions[thread] = body
    _status, stats = api(host, "GET", "/api/v1/store/stats")
    return {"sessions": sessions, "stats": stats}


def tools_snapshot(host):
    status, listing = api(host, "GET", "/api/v1/tools")
    assert status == 200, listing
    full = {}
    for tool in listing["tools"]:
        _s, body = api(host, "GET", "/api/v1/tools/%s" % tool["name"])
        full[tool["name"]] = body
    return full


class Load(threading.Thread):
    """A stream of writes (POST /api/v1/turns) and a /health poll, recording every failure."""

    def __init__(self, host, period=0.02):
        super().__init__(daemon=True)
        self.host, self.period = host, period
        self.base = "http://%s:8000" % ip(host)
        self.stop = threading.Event()
        self.writes, self.write_errors, self.health, self.health_errors = 0, [], 0, []

    def run(self):
        n = 0
        health_every = max(1, int(0.05 / self.period))
        while not self.stop.is_set():
            n += 1
            body = json.dumps({"thread_id": "load-%s" % uuid.uuid4().hex[:8], "text": "streamed turn %d" % n}).encode()
            req = urllib.request.Request(self.base + "/api/v1/turns", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    self.writes += 1 if resp.status in (200, 201) else 0
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                self.write_errors.append(repr(exc))
            if n % health_every == 0:
                try:
                    with urllib.request.urlopen(self.base + "/health", timeout=5) as resp:
                        self.health += 1
                        if resp.status != 200:
                            self.health_errors.append(resp.status)
                except Exception as exc:  # noqa: BLE001
                    self.health_errors.append(repr(exc))
            time.sleep(self.period)


# --------------------------------------------------------------------------- tests

def test_sqlite_backup_runs_online_while_the_service_takes_writes(env):
    load = Load(EL_BOT)
    load.start()
    time.sleep(1)
    try:
        proc = playbook(env, "backup.yml", "--limit", EL_BOT)
    finally:
        load.stop.set()
        load.join()
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert load.write_errors == []
    assert load.health_errors == []
    assert load.writes > 50 and load.health > 10
    newest = sets_of(EL_BOT)[-1]
    item = [i for i in manifest(EL_BOT, newest)["items"] if i["store"] == "sqlite"][0]
    assert item["integrity"] == "ok"
    assert item["kind"] == "sqlite-backup-api"
    assert item["counts"]["sessions"] > 0


def test_backup_destroy_restore_loses_nothing(env):
    tag = "bk-it-%s" % uuid.uuid4().hex[:6]
    written = {host: write_turns(host, tag, 5) for host in (EL_BOT, MULTI, TOOLS)}
    for i in range(3):
        status, body = api(TOOLS, "POST", "/api/v1/tools", {
            "name": "%s_tool_%d" % (tag.replace("-", "_"), i), "description": "integration test tool %d" % i,
            "code": "def execute(params):\n    return {'n': %d, 'echo': params}\n" % i})
        assert status == 201, body
    before = {host: snapshot(host, written[host]) for host in written}
    tools_before = tools_snapshot(TOOLS)
    redis_keys_before = sh(MULTI, "REDISCLI_AUTH=%s redis-cli --no-auth-warning --scan | sort"
                           % env.get("OPSKIT_REDIS_PASSWORD", ""))

    proc = playbook(env, "backup.yml", "--limit", ",".join(written))
    assert proc.returncode == 0, proc.stdout[-4000:]

    # Destroy: SQLite files, PostgreSQL rows, Redis keys, tool definitions.
    for host in (EL_BOT, TOOLS):
        name = SERVICE[host]
        sh(host, "systemctl stop %s && rm -f /var/lib/%s/data/el_sessions.db* && rm -f /var/lib/%s/.pi/tools/*.json"
                 " && systemctl start %s" % (name, name, name, name))
    sh(MULTI, "su postgres -c \"psql -q -d discord_agent -c 'TRUNCATE sessions, messages, slots, unified_memories "
              "CASCADE'\"")
    sh(MULTI, "REDISCLI_AUTH=%s redis-cli --no-auth-warning FLUSHALL" % env.get("OPSKIT_REDIS_PASSWORD", ""))
    time.sleep(3)
    for host in written:
        status, _body = api(host, "GET", "/api/v1/sessions/%s" % written[host][0])
        assert status == 404, (host, status)

    proc = playbook(env, "restore.yml", "-e", "restore_hosts=%s" % ",".join(written), "-e", "restore_keep_aside=false")
    assert proc.returncode == 0, proc.stdout[-6000:]

    after = {host: snapshot(host, written[host]) for host in written}
    for host in written:
        assert after[host]["sessions"] == before[host]["sessions"], host  # every record identical
        # Nothing else writes to the local hosts during the test, so the whole store matches too.
        assert after[host]["stats"] == before[host]["stats"], host
    assert tools_snapshot(TOOLS) == tools_before
    assert sh(MULTI, "REDISCLI_AUTH=%s redis-cli --no-auth-warning --scan | sort"
              % env.get("OPSKIT_REDIS_PASSWORD", "")) == redis_keys_before
    # Vectors came back too (runbook 002's pgvector data).
    first = after[MULTI]["sessions"][written[MULTI][0]]
    assert first["messages"][0]["embedding"] and len(first["messages"][0]["embedding"]) == 8


def test_flipped_byte_is_refused_and_live_data_untouched(env):
    proc = playbook(env, "backup.yml", "--limit", EL_BOT)
    assert proc.returncode == 0, proc.stdout[-4000:]
    newest = sets_of(EL_BOT)[-1]
    item = [i for i in manifest(EL_BOT, newest)["items"] if i["store"] == "sqlite"][0]
    path = "%s/%s/%s/%s" % (SETS, EL_BOT, newest, item["file"])
    sh(EL_BOT, "python3 -c \"f=open('%s','r+b'); f.seek(4096+17); b=f.read(1); f.seek(4096+17); "
               "f.write(bytes([b[0]^0xff])); f.close()\"" % path)
    actual = sh(EL_BOT, "sha256sum %s" % path).split()[0]
    live_before = sh(EL_BOT, "sha256sum /var/lib/el-bot/data/el_sessions.db").split()[0]
    started_before = sh(EL_BOT, "systemctl show -p ActiveEnterTimestamp el-bot").strip()
    try:
        proc = playbook(env, "restore.yml", "-e", "restore_hosts=%s" % EL_BOT)
        assert proc.returncode != 0
        text = proc.stdout + proc.stderr
        assert "%s: checksum mismatch, expected sha256 %s, actual %s" % (item["file"], item["sha256"], actual) in text
        assert sh(EL_BOT, "sha256sum /var/lib/el-bot/data/el_sessions.db").split()[0] == live_before
        assert sh(EL_BOT, "systemctl show -p ActiveEnterTimestamp el-bot").strip() == started_before
        assert api(EL_BOT, "GET", "/health")[0] == 200
    finally:
        sh(EL_BOT, "rm -rf %s/%s/%s" % (SETS, EL_BOT, newest))


def _sigint_default():
    # a job started in the background by a non-interactive shell inherits SIGINT ignored;
    # the playbook must see SIGINT the way it does when an operator presses Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_backup_keeps_previous_sets_and_is_never_complete(env, sig):
    if not [n for n in sets_of(MULTI) if complete(MULTI, n)]:
        assert playbook(env, "backup.yml", "--limit", MULTI).returncode == 0
    before = dict((n, sh(MULTI, "sha256sum %s/%s/%s/manifest.json" % (SETS, MULTI, n)))
                  for n in sets_of(MULTI) if complete(MULTI, n))
    known = set(sets_of(MULTI))
    # Plain linear: through Mitogen the whole backup can finish within the few
    # seconds this test waits before it interrupts the run mid-item.
    slow_env = dict(env, OPSKIT_MITOGEN="0")
    proc = subprocess.Popen([PLAYBOOK, "-i", INVENTORY, os.path.join(ROOT, "playbooks", "backup.yml"),
                             "--limit", MULTI], cwd=ROOT, env=slow_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, preexec_fn=_sigint_default)
    deadline = time.time() + 300
    new = []
    while time.time() < deadline and not new:
        new = [n for n in sets_of(MULTI) if n not in known]
        time.sleep(0.5)
    assert new, "the backup never started a set"
    time.sleep(4)  # well inside the run: items are being written
    os.killpg(proc.pid, sig)
    proc.communicate(timeout=120)
    time.sleep(15)  # a module already running on the host may still finish its item
    partial = new[0]
    assert not complete(MULTI, partial)
    after = dict((n, sh(MULTI, "sha256sum %s/%s/%s/manifest.json" % (SETS, MULTI, n)))
                 for n in sets_of(MULTI) if complete(MULTI, n))
    assert after == before  # previous sets untouched, nothing new marked complete
    for name in before:
        ok, out = verify_on_host(env, MULTI, name)
        assert ok, out
    # A restore would never take the partial set: the newest complete one is the old newest.
    proc = subprocess.run([ANSIBLE, "-i", INVENTORY, MULTI, "-m", "opskit.ops.backup_manifest",
                           "-a", "action=find host=%s" % MULTI], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert sorted(before)[-1] in proc.stdout
    sh(MULTI, "rm -rf %s/%s/%s /var/tmp/opskit-pgdump-%s" % (SETS, MULTI, partial, partial))


def test_restore_drill_reports_every_check_and_leaves_production_alone(env, tmp_path):
    assert playbook(env, "backup.yml", "--limit", ",".join(SERVICE)).returncode == 0
    live = dict((h, sh(h, "systemctl show -p ActiveEnterTimestamp %s" % SERVICE[h]).strip()) for h in SERVICE)
    proc = playbook(env, "restore_drill.yml", "--limit", ",".join(SERVICE),
                    "-e", "restore_drill_report_dir=%s" % tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:]
    reports = sorted(p for p in os.listdir(str(tmp_path)) if p.endswith(".json"))
    assert len(reports) == 3
    stores = set()
    for name in reports:
        with open(os.path.join(str(tmp_path), name)) as handle:
            report = json.load(handle)
        assert report["passed"] is True
        assert all(check["ok"] for check in report["checks"])
        stores.update(check["store"] for check in report["checks"])
        assert os.path.exists(os.path.join(str(tmp_path), name[:-5] + ".md"))
    assert {"sqlite", "postgres", "redis", "env", "tools"} <= stores
    # Production untouched: no service restarted, no scratch database left.
    assert live == dict((h, sh(h, "systemctl show -p ActiveEnterTimestamp %s" % SERVICE[h]).strip()) for h in SERVICE)
    assert "discord_agent_drill" not in sh(MULTI, "su postgres -c 'psql -lqt'")


def test_backup_to_azurite_and_restore_from_it(env, tmp_path, azurite):
    run_env = dict(env, OPSKIT_AZURE_STORAGE_CONNECTION_STRING=azurite)
    threads = write_turns(EL_BOT, "bk-az-%s" % uuid.uuid4().hex[:6], 3)
    before = snapshot(EL_BOT, threads)
    proc = playbook(run_env, "backup.yml", "--limit", EL_BOT, "-e", "backup_azure_enabled=true")
    assert proc.returncode == 0, proc.stdout[-4000:]
    sh(EL_BOT, "systemctl stop el-bot && rm -f /var/lib/el-bot/data/el_sessions.db* && systemctl start el-bot")
    time.sleep(3)
    assert api(EL_BOT, "GET", "/api/v1/sessions/%s" % threads[0])[0] == 404
    proc = playbook(run_env, "restore.yml", "-e", "restore_hosts=%s" % EL_BOT, "-e", "restore_source=azure",
                    "-e", '{"restore_stores": ["sqlite"]}', "-e", "restore_controller_dir=%s" % (tmp_path / "dl"),
                    "-e", "restore_keep_aside=false")
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert snapshot(EL_BOT, threads) == before
