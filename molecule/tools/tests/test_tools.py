"""Runbook 004 on the reference service: archive under traffic, repair, weekly report, full disk.

side_effect.yml records what these tests compare under /root/side_effect on the host.
"""
import glob
import json
import os

RECORD = "/root/side_effect"
PI = "/var/lib/dynamic-tools/.pi"
LOG = PI + "/logs/dynamic-tools-audit.jsonl"


def _json(host, path):
    return json.loads(host.file(path).content_string)


def _lines(text):
    return [line for line in text.split("\n") if line]


def _ids(lines):
    return [json.loads(line)["id"] for line in lines]


def _archive_lines(host, archive):
    return _lines(host.check_output("zcat %s" % archive))


def test_service_healthy_after_everything(host):
    health = json.loads(host.check_output("curl -s http://127.0.0.1:8000/health"))
    assert health["status"] == "ok"
    tools = json.loads(host.check_output("curl -s http://127.0.0.1:8000/api/v1/tools"))
    assert sorted(t["name"] for t in tools["tools"]) == ["csv_parser", "json_formatter", "text_counter"]
    assert tools["corrupted"] == []


def test_archive_under_traffic_loses_no_line(host):
    before = _json(host, RECORD + "/before.json")
    record = _json(host, RECORD + "/archive.json")
    archive = record["archive"]
    before_lines = _lines(host.file(RECORD + "/before.jsonl").content_string)
    live_lines = _lines(host.file(RECORD + "/after_archive.jsonl").content_string)
    codes = _lines(host.file(RECORD + "/traffic.codes").content_string)
    assert len(before_lines) == before["after"]
    # the background runs started before playbooks/logs.yml and went on while it ran; every run answered 200
    assert record["traffic_before_archive"] >= 20
    assert record["traffic_after_archive"] > record["traffic_before_archive"]
    assert len(codes) >= record["traffic_after_archive"]
    assert set(codes) == {"200"}

    assert archive["archived"] == 300
    assert archive["quarantined"] == 1
    assert host.file(archive["archive_path"]).exists
    archived_lines = _archive_lines(host, archive["archive_path"])
    # count before + appended = archived + live (+ the corrupted line, quarantined)
    assert len(archived_lines) + len(live_lines) + 1 == len(before_lines) + len(codes)
    valid_before = [line for i, line in enumerate(before_lines, 1) if i != before["garbage_line"]]
    ids = _ids(archived_lines) + _ids(live_lines)
    assert len(ids) == len(set(ids)), "duplicate entry ids"
    assert set(_ids(valid_before)) <= set(ids)
    appended = [json.loads(line) for line in live_lines if json.loads(line)["id"] not in set(_ids(valid_before))]
    assert len(appended) == len(codes)
    assert {(e["action"], e["toolName"], e["success"]) for e in appended} == {("tool.run", "json_formatter", True)}
    # the archive holds exactly the 300 backdated entries, byte for byte
    assert archived_lines == [line for line in valid_before if json.loads(line)["id"].startswith("audit_old")]
    # the live log kept the order of the entries that stayed
    assert live_lines[:len(valid_before) - 300] == [line for line in valid_before
                                                    if not json.loads(line)["id"].startswith("audit_old")]


def test_corrupted_audit_line_quarantined(host):
    before = _json(host, RECORD + "/before.json")
    archive = _json(host, RECORD + "/archive.json")["archive"]
    quarantine = host.file(archive["quarantine_path"])
    assert quarantine.exists
    assert quarantine.content_string == "%d\t%s\n" % (before["garbage_line"], before["garbage"])
    live = host.file(LOG).content_string
    assert before["garbage"] not in live
    # the live log still starts with the snapshot taken after the archive (later lines only appended)
    assert live.startswith(host.file(RECORD + "/after_archive.jsonl").content_string)
    for line in _lines(live):
        json.loads(line)


def test_corrupted_definition_restored_and_quarantined(host):
    record = _json(host, RECORD + "/definition.json")
    definition = host.file(PI + "/tools/" + record["file"])
    restored = json.loads(definition.content_string)
    backup = json.loads(host.file(RECORD + "/csv_parser.backup.json").content_string)
    assert restored == backup
    assert restored["name"] == "csv_parser"
    assert definition.content_string == host.file(RECORD + "/csv_parser.backup.json").content_string
    assert definition.user == record["owner"]
    assert definition.mode == int(record["mode"], 8)
    quarantined = host.check_output("ls %s/quarantine/tools" % PI).split()
    mine = [name for name in quarantined if name.startswith(record["file"])]
    assert len(mine) == 1, quarantined
    assert host.file("%s/quarantine/tools/%s" % (PI, mine[0])).content_string == record["content"]
    # the restore is in the audit log, with where it came from and where the broken file went
    audit = [json.loads(line) for line in _lines(host.file(LOG).content_string)]
    restores = [e for e in audit if e["action"] == "tool.restore" and e["actor"] == "opskit.ops.tool_registry"]
    assert len(restores) == 1
    assert restores[0]["toolName"] == "csv_parser"
    assert restores[0]["details"]["file"] == record["file"]
    assert restores[0]["details"]["restoredFrom"] == "%s/%s" % (record["backup_path"], record["file"])
    assert restores[0]["details"]["quarantinedTo"] == "%s/quarantine/tools/%s" % (PI, mine[0])


def test_weekly_report_on_controller():
    reports = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "reports")
    markdown = glob.glob(os.path.join(reports, "dynamic-tools-weekly-*.md"))
    assert len(markdown) == 1, os.listdir(reports)
    prefix = markdown[0][:-len(".md")] + "-"
    for chart in ("runs-per-hour.png", "execution-time.png", "top-tools.png"):
        path = prefix + chart
        assert os.path.getsize(path) > 1000, path
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n", path
    with open(markdown[0], encoding="utf-8") as fh:
        text = fh.read()
    for chart in ("runs-per-hour.png", "execution-time.png", "top-tools.png"):
        assert os.path.basename(prefix + chart) in text
    assert "json_formatter" in text
    audit = json.load(open(os.path.join(reports, "dynamic-tools-audit.json"), encoding="utf-8"))
    assert audit["corrupted"]["count"] == 0
    assert audit["runs"]["total"] >= 15
    # the agent_app role installs python3-orjson on dynamic-tools hosts: the module parses with it
    assert audit["parser"].startswith("orjson "), audit["parser"]


def test_archive_on_full_disk_fails_cleanly(host):
    record = _json(host, RECORD + "/diskfull.json")
    result = record["result"]
    assert result["failed"] is True
    assert "no space left on device" in result["msg"].lower()
    assert result.get("changed") is False
    assert record["before"]["checksum"] == record["after"]["checksum"]
    assert record["before"]["inode"] == record["after"]["inode"]
    assert record["before"]["size"] == record["after"]["size"] > 600 * 1024
    assert record["before"]["files"] == record["after"]["files"] == [
        "/mnt/opskit-full/logs/dynamic-tools-audit.jsonl"]
    log = host.file("/mnt/opskit-full/logs/dynamic-tools-audit.jsonl")
    assert log.sha256sum == record["before"]["checksum"]
    assert host.mount_point("/mnt/opskit-full").filesystem == "tmpfs"
