"""The opskit.ops.alertmanager event source: payload parsing, the repeat
window, dry run, the action log, and the real aiohttp server."""
import asyncio
import json
import socket

import pytest

from ansible_collections.opskit.ops.extensions.eda.plugins.event_source import alertmanager as am


def notification(*alerts, status="firing"):
    return json.dumps({
        "version": "4", "status": status, "receiver": "opskit-remediation",
        "groupKey": '{}:{alertname="RuntimeServiceDown"}',
        "alerts": list(alerts),
    })


def alert(name="RuntimeServiceDown", host="runtime-1", status="firing", **labels):
    labels = dict({"alertname": name, "host": host, "instance": host + ":8000",
                   "job": "runtime-service", "severity": "critical"}, **labels)
    return {"status": status, "labels": labels,
            "annotations": {"summary": "Runtime service unavailable"},
            "startsAt": "2026-12-04T20:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "abc123", "generatorURL": "http://prom:9090/graph"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def run(coro):
    return asyncio.run(coro)


def read_log(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- parsing

def test_one_event_per_alert_with_labels_annotations_status():
    events = am.parse_payload(notification(alert(), alert("AutoFallbackTriggered", status="resolved")))
    assert len(events) == 2
    first = events[0]
    assert first["alert"]["status"] == "firing"
    assert first["alert"]["labels"]["alertname"] == "RuntimeServiceDown"
    assert first["alert"]["annotations"] == {"summary": "Runtime service unavailable"}
    assert first["alert"]["fingerprint"] == "abc123"
    assert first["opskit"] == {"key": "RuntimeServiceDown/runtime-1/firing", "host": "runtime-1",
                               "dry_run": False, "receiver": "opskit-remediation",
                               "group_key": '{}:{alertname="RuntimeServiceDown"}'}
    assert events[1]["alert"]["status"] == "resolved"
    assert events[1]["opskit"]["key"] == "AutoFallbackTriggered/runtime-1/resolved"


def test_label_values_become_strings_and_status_falls_back_to_the_group():
    body = json.dumps({"status": "resolved", "alerts": [{"labels": {"alertname": "X", "runbook": 3}}]})
    event = am.parse_payload(body)[0]
    assert event["alert"]["labels"]["runbook"] == "3"
    assert event["alert"]["status"] == "resolved"


@pytest.mark.parametrize("labels, expected", [
    ({"host": "h1", "instance": "other:9"}, "h1"),
    ({"instance": "runtime-1:8000"}, "runtime-1"),
    ({"instance": "[::1]:8000"}, "::1"),
    ({"instance": "bare-host"}, "bare-host"),
    ({}, ""),
])
def test_alert_host(labels, expected):
    assert am.alert_host(labels) == expected


@pytest.mark.parametrize("body, message", [
    (b"{not json", "body is not JSON"),
    (b"[]", "no list 'alerts'"),
    (b'{"alerts": {}}', "no list 'alerts'"),
    (b'{"alerts": [1]}', "alert 0 has no object 'labels'"),
    (b'{"alerts": [{"labels": {"job": "x"}}]}', "alert 0 has no label alertname"),
    (b'{"alerts": [{"labels": {"alertname": "A"}, "status": "pending"}]}', "status 'pending'"),
    (b'{"alerts": [{"labels": {"alertname": "A"}, "annotations": []}]}', "annotations must be an object"),
])
def test_bad_payloads_are_refused(body, message):
    with pytest.raises(am.PayloadError) as err:
        am.parse_payload(body)
    assert message in str(err.value)


@pytest.mark.parametrize("args, message", [
    ({"port": "x"}, "port and window_seconds must be numbers"),
    ({"port": 0}, "port must be between 1 and 65535"),
    ({"window_seconds": -1}, "window_seconds must be 0 or more"),
    ({"path": "alerts"}, "path must start with /"),
])
def test_bad_arguments_name_the_argument(args, message):
    with pytest.raises(ValueError) as err:
        am.parse_args(args)
    assert message in str(err.value)


def test_arguments_defaults_and_strings():
    settings = am.parse_args({"port": "5099", "dry_run": "true", "window_seconds": "30", "action_log": None})
    assert settings == {"host": "127.0.0.1", "port": 5099, "path": "/alerts", "window_seconds": 30.0,
                        "action_log": "", "dry_run": True}


# ---------------------------------------------------------------- repeat window

def test_dedup_admits_once_per_window_and_again_after_it():
    clock = Clock()
    dedup = am.Deduplicator(600, clock=clock)
    assert dedup.admit("RuntimeServiceDown/h1/firing") is True
    clock.now += 599
    assert dedup.admit("RuntimeServiceDown/h1/firing") is False
    assert dedup.admit("RuntimeServiceDown/h2/firing") is True    # other host
    assert dedup.admit("RuntimeServiceDown/h1/resolved") is True  # other status
    clock.now += 1
    assert dedup.admit("RuntimeServiceDown/h1/firing") is True
    assert dedup.seconds_since("RuntimeServiceDown/h1/firing") == 0


def test_dedup_suppression_does_not_extend_the_window():
    clock = Clock()
    dedup = am.Deduplicator(10, clock=clock)
    assert dedup.admit("k") is True
    clock.now += 9
    assert dedup.admit("k") is False
    clock.now += 1  # 10 s after the first one passed, not after the suppressed one
    assert dedup.admit("k") is True


def test_dedup_window_zero_admits_everything():
    dedup = am.Deduplicator(0)
    assert [dedup.admit("k") for dummy in range(3)] == [True, True, True]


def test_dedup_forgets_old_keys():
    clock = Clock()
    dedup = am.Deduplicator(5, clock=clock)
    dedup.admit("a")
    clock.now += 6
    dedup.admit("b")
    assert sorted(dedup._last) == ["b"]


# ---------------------------------------------------------------- receiver

def receiver(tmp_path, clock=None, **args):
    queue = asyncio.Queue()
    settings = am.parse_args(dict({"action_log": str(tmp_path / "actions.jsonl")}, **args))
    return queue, am.Receiver(queue, settings, clock=clock or Clock())


def drain(queue):
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def test_receiver_queues_then_suppresses_a_repeat_and_logs_both(tmp_path):
    clock = Clock()
    queue, rcv = receiver(tmp_path, clock=clock, window_seconds=600)

    async def scenario():
        first = await rcv.handle_body(notification(alert()).encode())
        clock.now += 30
        second = await rcv.handle_body(notification(alert()).encode())
        return first, second, drain(queue)

    first, second, events = run(scenario())
    assert first == (202, {"queued": 1, "suppressed": 0})
    assert second == (202, {"queued": 0, "suppressed": 1})
    assert len(events) == 1
    log = read_log(tmp_path / "actions.jsonl")
    assert [line["event"] for line in log] == ["received", "suppressed"]
    assert log[1]["alertname"] == "RuntimeServiceDown"
    assert log[1]["host"] == "runtime-1"
    assert log[1]["seconds_since_last"] == 30.0
    assert log[1]["reason"] == "repeat within 600s window"


def test_bad_json_is_answered_400_logged_and_queues_nothing(tmp_path):
    queue, rcv = receiver(tmp_path)
    status, answer = run(rcv.handle_body(b"{oops", remote="10.0.0.9"))
    assert status == 400
    assert "body is not JSON" in answer["error"]
    assert queue.empty()
    (line,) = read_log(tmp_path / "actions.jsonl")
    assert line["event"] == "rejected"
    assert line["remote"] == "10.0.0.9"
    assert line["body"] == "{oops"


def test_dry_run_marks_every_event_and_the_log(tmp_path):
    queue, rcv = receiver(tmp_path, dry_run=True)
    run(rcv.handle_body(notification(alert(), alert("ElAgentMetricsDown", host="el-1")).encode()))
    events = drain(queue)
    assert [e["opskit"]["dry_run"] for e in events] == [True, True]
    assert [line["dry_run"] for line in read_log(tmp_path / "actions.jsonl")] == [True, True]


def test_no_action_log_path_writes_no_file(tmp_path, caplog):
    queue = asyncio.Queue()
    rcv = am.Receiver(queue, am.parse_args({}))
    with caplog.at_level("INFO", logger="opskit.ops.alertmanager"):
        run(rcv.handle_body(notification(alert()).encode()))
    assert list(tmp_path.iterdir()) == []
    assert '"event": "received"' in caplog.text


# ---------------------------------------------------------------- the real server

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_main_serves_the_webhook_over_http(tmp_path):
    aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is pinned in requirements.txt")
    port = free_port()
    log_path = tmp_path / "actions.jsonl"

    async def scenario():
        queue = asyncio.Queue()
        server = asyncio.ensure_future(am.main(queue, {"port": port, "action_log": str(log_path)}))
        async with aiohttp.ClientSession() as session:
            for dummy in range(50):
                try:
                    async with session.get("http://127.0.0.1:%d/health" % port) as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            url = "http://127.0.0.1:%d/alerts" % port
            async with session.post(url, data=notification(alert())) as resp:
                good = (resp.status, await resp.json())
            async with session.post(url, data=b"nope") as resp:
                bad = resp.status
            async with session.get(url) as resp:
                wrong_method = resp.status
        event = await asyncio.wait_for(queue.get(), 5)
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
        return good, bad, wrong_method, event

    good, bad, wrong_method, event = run(scenario())
    assert good == (202, {"queued": 1, "suppressed": 0})
    assert bad == 400
    assert wrong_method == 405
    assert event["alert"]["labels"]["alertname"] == "RuntimeServiceDown"
    assert [line["event"] for line in read_log(log_path)] == ["received", "rejected"]
