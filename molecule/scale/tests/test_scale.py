"""Scaling semibot-runtime behind HAProxy under load, on the scenario's container.

The load generator (bench/_loadgen.py) runs here on the controller and sends
requests only to the container this scenario created, through HAProxy's
frontend (port 9000). Each test runs playbooks against the scenario's
inventory while the load runs and asserts that no request failed.
"""
import base64
import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[2]
sys.path.insert(0, str(PROJECT / "bench"))
from _loadgen import Load  # noqa: E402

HOST = "h6-scale"
SERVICE = "semibot-runtime"
BALANCER = 9000
testinfra_hosts = ["ansible://%s?ansible_inventory=%s" % (HOST, os.environ.get("MOLECULE_INVENTORY_FILE", ""))]
TOKEN = os.environ.get("OPSKIT_ADMIN_TOKEN", "")
DIST = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / "dist"
STATS = base64.b64encode(b"""import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect('/run/haproxy/admin.sock')
s.sendall(b'show stat\\n')
d = b''
while True:
    c = s.recv(65536)
    if not c:
        break
    d += c
sys.stdout.write(d.decode())
""").decode()
# The playbooks run with the variables a user's shell would have, not the
# verifier's whole environment.
ENV_KEEP = ("PATH", "HOME", "LANG", "ANSIBLE_CONFIG", "ANSIBLE_ROLES_PATH", "ANSIBLE_COLLECTIONS_PATH",
            "ANSIBLE_PIPELINING", "OPSKIT_ADMIN_TOKEN", "OPSKIT_DB_PASSWORD", "OPSKIT_REDIS_PASSWORD",
            "OPSKIT_BACKUP_VAULT_PASSWORD", "DOCKER_HOST")


def _address():
    out = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", HOST],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0]


ADDRESS = _address()


def playbook(name, *args, check=True):
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
           str(PROJECT / name)] + list(args)
    env = {key: os.environ[key] for key in ENV_KEEP if key in os.environ}
    env.update(OPSKIT_WORK_DIR=str(PROJECT), ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_ROLES_PATH=str(PROJECT / "roles"), ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "collections"))
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False, cwd=PROJECT)
    out = run.stdout + run.stderr
    print(" ".join(cmd[2:]), "->", run.returncode)
    print(out[-4000:])
    if check:
        assert run.returncode == 0, out[-3000:]
    # The YAML callback wraps long messages: compare with whitespace collapsed.
    return run.returncode, " ".join(out.split())


def recap(out):
    """changed= of the host in the play recap."""
    recaps = out.split("PLAY RECAP")[-1].split()
    for index, word in enumerate(recaps):
        if word == HOST and recaps[index + 1] == ":":
            return int(recaps[index + 3].split("=")[1])
    raise AssertionError("no recap for %s" % HOST)


def stats(host):
    """{server: row} of the service's backend, from HAProxy's 'show stat'."""
    text = host.check_output("python3 -c \"import base64; exec(base64.b64decode('%s'))\"" % STATS)
    lines = [line for line in text.splitlines() if line.strip()]
    lines[0] = lines[0].lstrip("# ")
    rows = csv.DictReader(io.StringIO("\n".join(lines)))
    return {r["svname"]: r for r in rows if r["pxname"] == SERVICE and r["svname"] not in ("FRONTEND", "BACKEND")}


def served(before, after):
    """Requests each server answered between two stats snapshots."""
    return {name: int(row["stot"]) - int(before.get(name, {}).get("stot", 0)) for name, row in after.items()}


def versions(count):
    found = {}
    for index in range(count):
        with urllib.request.urlopen("http://%s:%d/health" % (ADDRESS, 8000 + index), timeout=5) as resp:
            found[index + 1] = json.load(resp)["version"]
    return found


def load(**kw):
    kw.setdefault("threads", 4)
    kw.setdefault("duration", 600)
    return Load(ADDRESS, BALANCER, **kw).start()


def build_wheel(version):
    wheel = DIST / ("agent_app-%s-py3-none-any.whl" % version)
    if not wheel.exists():
        env = dict(os.environ, AGENT_APP_VERSION=version)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--wheel-dir", str(DIST), str(PROJECT / "examples" / "agent_app")], env=env, check=True)
    return wheel


def build_broken_wheel():
    wheel = DIST / "broken_app-9.9.9-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--wheel-dir", str(DIST), str(PROJECT / "molecule" / "python_service" / "files" / "broken_app")],
                       check=True)
    return wheel


def scale(count, *extra):
    return playbook("scale.yml", "-e", "scale_service=%s" % SERVICE, "-e", "scale_instances=%d" % count, *extra)


def test_converged_one_instance_behind_haproxy(host):
    assert host.service("haproxy").is_running
    assert host.service("%s.service" % SERVICE).is_running
    assert list(stats(host)) == ["%s-1" % SERVICE]
    cfg = host.file("/etc/haproxy/haproxy.cfg").content_string
    assert "option httpchk GET /health" in cfg
    assert "server %s-1 127.0.0.1:8000" % SERVICE in cfg
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0


def test_scale_1_to_3_to_1_under_load_fails_no_request(host):
    before = stats(host)
    traffic = load()
    try:
        time.sleep(2)
        scale(3)
        at_three = stats(host)
        assert sorted(at_three) == ["%s-%d" % (SERVICE, i) for i in (1, 2, 3)]
        assert all(row["status"] == "UP" for row in at_three.values()), at_three
        time.sleep(3)
        spread = served(before, stats(host))
        scale(1)
        time.sleep(2)
    finally:
        result = traffic.stop()
    print("load:", result, "served per server at 3 instances:", spread)
    assert result["requests"] > 200
    assert result["failed"] == 0, result["failures"]
    # every instance served traffic while there were three
    assert all(spread[name] > 0 for name in ("%s-%d" % (SERVICE, i) for i in (1, 2, 3))), spread
    assert list(stats(host)) == ["%s-1" % SERVICE]
    for index in (2, 3):
        assert not host.service("%s@%d.service" % (SERVICE, index)).is_running
        assert not host.file("/opt/%s/current@%d" % (SERVICE, index)).exists
    assert json.loads(host.file("/etc/%s/scale.json" % SERVICE).content_string)["instances"] == 1


def test_scale_with_workers_is_idempotent_and_check_diff_is_clean(host):
    scale(3, "-e", "scale_workers=2")
    for index in (1, 2, 3):
        assert "AGENT_WORKERS=2" in host.file("/etc/%s/instance-%d.env" % (SERVICE, index)).content_string
    pid = host.check_output("systemctl show -p MainPID --value %s@2.service" % SERVICE)
    assert int(host.check_output("ps -o pid= --ppid %s | wc -l" % pid)) >= 2  # uvicorn's worker processes
    _rc, out = scale(3, "-e", "scale_workers=2")
    assert recap(out) == 0
    _rc, out = scale(3, "-e", "scale_workers=2", "--check", "--diff")
    assert recap(out) == 0


def test_rolling_update_under_load_fails_no_request(host):
    wheel = build_wheel("1.0.1")
    assert versions(3) == {1: "1.0.0", 2: "1.0.0", 3: "1.0.0"}
    before = stats(host)
    traffic = load()
    try:
        time.sleep(2)
        _rc, out = playbook("deploy.yml", "-e", "agent_app_version=1.0.1", "-e", "agent_app_wheel=%s" % wheel)
        time.sleep(3)
    finally:
        result = traffic.stop()
    spread = served(before, stats(host))
    print("load:", result, "served per server:", spread)
    assert result["requests"] > 200
    assert result["failed"] == 0, result["failures"]
    assert all(count > 0 for count in spread.values()) and len(spread) == 3, spread
    assert versions(3) == {1: "1.0.1", 2: "1.0.1", 3: "1.0.1"}
    # one instance at a time: each was drained before its restart
    assert "TASK [service_instances : Drain instance 1 before its release changes]" in out
    # one drain task per instance (instance 1's is skipped: agent_app rolled it behind the drain above)
    assert out.count("TASK [service_instances : Drain the instance and wait until its sessions are done, semibot-runtime-") == 3


def test_rolling_update_to_a_broken_release_leaves_the_old_one_serving(host):
    wheel = build_broken_wheel()
    traffic = load()
    try:
        rc, out = playbook("deploy.yml", "-e", "agent_app_version=9.9.9", "-e", "agent_app_wheel=%s" % wheel,
                           "-e", "agent_app_health_timeout=10", check=False)
        time.sleep(3)
    finally:
        result = traffic.stop()
    print("load:", result)
    assert rc != 0
    assert "failed its health gate" in out
    assert "the roll stopped" in out
    assert result["failed"] == 0, result["failures"]
    assert versions(3) == {1: "1.0.1", 2: "1.0.1", 3: "1.0.1"}
    assert host.file("/opt/%s/current" % SERVICE).linked_to == "/opt/%s/releases/1.0.1" % SERVICE
    for index in (2, 3):
        assert host.file("/opt/%s/current@%d" % (SERVICE, index)).linked_to == "/opt/%s/releases/1.0.1" % SERVICE
    assert all(row["status"] == "UP" for row in stats(host).values())


# The container reads the whole (shared, busy) test machine in /proc/stat and
# /proc/meminfo, so CPU and memory are taken out of these decisions (thresholds
# of 101 %); plugins/filter/scaling.py's unit tests cover them. Error rate and
# latency come from the service itself, through its fault switch.
NO_HOST = json.dumps({"scale_thresholds": {"out_cpu_percent": 101, "in_cpu_percent": 101,
                                           "out_memory_percent": 101, "in_memory_percent": 101},
                      "scale_settings": {"metrics_interval": 4}})


def _fault(body):
    req = urllib.request.Request("http://%s:%d/api/v1/admin/fault" % (ADDRESS, BALANCER), data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer %s" % TOKEN, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def _auto(*extra):
    return playbook("scale.yml", "-e", "scale_service=%s" % SERVICE, "-e", "scale_mode=auto", "-e", NO_HOST, *extra)


def test_auto_scales_out_on_errors_and_in_when_idle(host):
    # Back to one uvicorn worker: each worker has its own counters, and two scrapes
    # of an instance could reach different workers.
    scale(3, "-e", "scale_workers=1")
    assert _fault({"error_rate": 0.5})["error_rate"] == 0.5
    turns = Load(ADDRESS, BALANCER, path="/api/v1/turns", method="POST", threads=2, duration=300,
                 body={"thread_id": "scale-auto", "text": "hello"}, expect=(200, 500)).start()
    try:
        # --check prints the decision and changes nothing
        _rc, out = _auto("--check")
        assert "out: 3 -> 4 instance(s): error rate" in out
        assert recap(out) == 0
        assert json.loads(host.file("/etc/%s/scale.json" % SERVICE).content_string)["instances"] == 3
        _rc, out = _auto()
    finally:
        turns.stop()
        _fault({"error_rate": 0.0})
    assert "out: 3 -> 4 instance(s): error rate" in out
    assert json.loads(host.file("/etc/%s/scale.json" % SERVICE).content_string)["instances"] == 4
    assert len(stats(host)) == 4
    _rc, out = _auto()
    assert "in: 4 -> 3 instance(s): every measurement under its scale-in threshold" in out
    assert json.loads(host.file("/etc/%s/scale.json" % SERVICE).content_string)["instances"] == 3
    assert len(stats(host)) == 3
