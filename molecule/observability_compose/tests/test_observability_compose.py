"""roles/observability, compose mode: the stack runs in Docker (inside the
test host) from the locally built images; Grafana, Loki and Promtail are
switched off by variables, not by editing the role."""
import json
import time


DIR = "/opt/opskit-observability"
PROJECT = "opskit-observability"


def _json(host, url):
    out = host.run("curl -fsS %s", url)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def test_compose_file_and_configs(host):
    compose = host.file(DIR + "/compose.yml")
    assert compose.exists and compose.mode == 0o644
    assert "Ansible managed" in compose.content_string
    # the switched-off components are not in the project
    services = host.run("docker compose -p %s -f %s/compose.yml config --services", PROJECT, DIR).stdout.split()
    assert sorted(services) == ["alertmanager", "prometheus"]
    for name in ("000-el-agent", "001-agent-framework", "002-multi-agent", "003-runtime"):
        assert host.file("%s/prometheus/rules/%s.yml" % (DIR, name)).exists
    am = host.file(DIR + "/alertmanager/alertmanager.yml")
    assert am.mode == 0o640 and am.group == "990" or am.gid == 990
    assert not host.file(DIR + "/grafana/grafana.env").exists
    assert not host.file(DIR + "/loki/loki.yml").exists


def test_containers_run_the_pinned_local_images(host):
    out = host.run("docker compose -p %s -f %s/compose.yml ps --format json", PROJECT, DIR)
    assert out.rc == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    rows = lines[0] if len(lines) == 1 and isinstance(lines[0], list) else lines
    state = {r["Service"]: (r["State"], r["Image"]) for r in rows}
    assert state == {"prometheus": ("running", "opskit/prometheus:2.53.3"),
                     "alertmanager": ("running", "opskit/alertmanager:0.28.1")}


def test_published_ports_only_on_loopback(host):
    assert host.socket("tcp://127.0.0.1:9090").is_listening
    assert host.socket("tcp://127.0.0.1:9093").is_listening
    assert not host.socket("tcp://0.0.0.0:9090").is_listening


def test_prometheus_loads_rules_and_reaches_alertmanager(host):
    deadline = time.time() + 60
    while True:
        targets = _json(host, "http://127.0.0.1:9090/api/v1/targets")["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if set(health.values()) == {"up"} or time.time() > deadline:
            break
        time.sleep(2)
    assert health == {"prometheus": "up", "alertmanager": "up"}
    ams = _json(host, "http://127.0.0.1:9090/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [a["url"] for a in ams] == ["http://alertmanager:9093/api/v2/alerts"]
    groups = {g["name"] for g in _json(host, "http://127.0.0.1:9090/api/v1/rules")["data"]["groups"]}
    assert groups == {"el-agent", "agent-framework", "multi-agent", "runtime", "runtime-recording"}
    status = _json(host, "http://127.0.0.1:9093/api/v2/status")
    assert status["cluster"]["status"] == "disabled"
