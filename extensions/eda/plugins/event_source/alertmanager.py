# -*- coding: utf-8 -*-
# Copyright: opskit maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.alertmanager: an ansible-rulebook event source that receives
Alertmanager webhook notifications and puts one event per alert on the queue.

Arguments (all optional):

  host            address to listen on (default 127.0.0.1)
  port            TCP port (default 5001)
  path            URL path Alertmanager posts to (default /alerts)
  window_seconds  guard rail against remediation loops: a notification of the
                  same alert (alertname, host, status) within this many seconds
                  of the one passed on is dropped and logged as `suppressed`
                  (default 600; 0 switches it off)
  action_log      JSONL file: one line per alert received, suppressed or
                  rejected (default: no file, the log of ansible-rulebook only)
  dry_run         true: events carry `opskit.dry_run: true`, which the opskit
                  rulebook passes on so that nothing is run (default false)

Each event:

  {"alert": {"status", "labels", "annotations", "startsAt", "endsAt",
             "fingerprint", "generatorURL"},
   "opskit": {"key": "<alertname>/<host>/<status>", "host": "<host>",
              "dry_run": bool, "receiver": "...", "group_key": "..."}}

`host` is the alert's `host` label (the inventory host name the observability
role puts on every scrape target), else the host part of `instance`.
A POST whose body is not an Alertmanager notification is answered 400 and
logged; nothing is queued.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import time

try:
    from aiohttp import web
except ImportError:  # pragma: no cover - ansible-rulebook always ships aiohttp
    web = None

LOG = logging.getLogger("opskit.ops.alertmanager")

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 5001,
    "path": "/alerts",
    "window_seconds": 600,
    "action_log": "",
    "dry_run": False,
}


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook notification."""


def _bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def parse_args(args):
    """Merge the source's arguments with the defaults and check their types."""
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in (args or {}).items() if v is not None})
    try:
        merged["port"] = int(merged["port"])
        merged["window_seconds"] = float(merged["window_seconds"])
    except (TypeError, ValueError):
        raise ValueError(
            "port and window_seconds must be numbers, got port=%r window_seconds=%r"
            % (merged["port"], merged["window_seconds"])
        )
    if not 0 < merged["port"] < 65536:
        raise ValueError("port must be between 1 and 65535, got %d" % merged["port"])
    if merged["window_seconds"] < 0:
        raise ValueError("window_seconds must be 0 or more, got %g" % merged["window_seconds"])
    if not str(merged["path"]).startswith("/"):
        raise ValueError("path must start with /, got %r" % merged["path"])
    merged["dry_run"] = _bool(merged["dry_run"])
    return merged


def alert_host(labels):
    """The inventory host an alert is about: label `host`, else `instance` without its port."""
    host = labels.get("host")
    if host:
        return str(host)
    instance = str(labels.get("instance", ""))
    if instance.startswith("["):  # [v6]:port
        return instance[1:].split("]", 1)[0]
    return instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance


def parse_payload(body, dry_run=False):
    """Turn one webhook body (bytes or str) into a list of events.

    Raises PayloadError when the body is not JSON or not an Alertmanager
    notification (an object with a list `alerts` of objects with `labels`).
    """
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise PayloadError("body is not JSON: %s" % exc)
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise PayloadError("body is not an Alertmanager notification: no list 'alerts'")
    events = []
    for index, alert in enumerate(data["alerts"]):
        if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
            raise PayloadError("alert %d has no object 'labels'" % index)
        labels = {str(k): str(v) for k, v in alert["labels"].items()}
        if not labels.get("alertname"):
            raise PayloadError("alert %d has no label alertname" % index)
        status = str(alert.get("status") or data.get("status") or "firing")
        if status not in ("firing", "resolved"):
            raise PayloadError("alert %d has status %r (expected firing or resolved)" % (index, status))
        annotations = alert.get("annotations")
        annotations = {} if annotations is None else annotations
        if not isinstance(annotations, dict):
            raise PayloadError("alert %d: annotations must be an object" % index)
        host = alert_host(labels)
        events.append({
            "alert": {
                "status": status,
                "labels": labels,
                "annotations": {str(k): str(v) for k, v in annotations.items()},
                "startsAt": alert.get("startsAt", ""),
                "endsAt": alert.get("endsAt", ""),
                "fingerprint": alert.get("fingerprint", ""),
                "generatorURL": alert.get("generatorURL", ""),
            },
            "opskit": {
                "key": "%s/%s/%s" % (labels["alertname"], host, status),
                "host": host,
                "dry_run": bool(dry_run),
                "receiver": str(data.get("receiver", "")),
                "group_key": str(data.get("groupKey", "")),
            },
        })
    return events


class Deduplicator:
    """At most one event per key (alertname/host/status) within `window` seconds.

    Alertmanager sends an alert again at every group_interval/repeat_interval
    and with every change of its group; only the first of those in a window
    may cause a remediation. `clock` is injectable for tests.
    """

    def __init__(self, window, clock=time.monotonic):
        self.window = float(window)
        self.clock = clock
        self._last = {}

    def admit(self, key):
        """True when the event passes; False when it repeats one within the window."""
        if self.window <= 0:
            return True
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.window:
            return False
        self._last[key] = now
        # forget keys older than the window so that the table stays small
        for old in [k for k, t in self._last.items() if now - t >= self.window]:
            del self._last[old]
        return True

    def seconds_since(self, key):
        last = self._last.get(key)
        return None if last is None else self.clock() - last


class ActionLog:
    """Append-only JSONL log; an empty path logs to the Python logger only."""

    def __init__(self, path):
        self.path = path

    def write(self, record, **fields):
        line = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "source": "opskit.ops.alertmanager"}
        line.update(record)
        line.update(fields)
        LOG.info("%s", json.dumps(line, sort_keys=True))
        if not self.path:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class Receiver:
    """The logic behind the HTTP endpoint, without the server (unit-testable)."""

    def __init__(self, queue, settings, clock=time.monotonic):
        self.queue = queue
        self.settings = settings
        self.dedup = Deduplicator(settings["window_seconds"], clock=clock)
        self.log = ActionLog(settings["action_log"])

    async def handle_body(self, body, remote=""):
        """Returns (HTTP status, answer dict)."""
        try:
            events = parse_payload(body, dry_run=self.settings["dry_run"])
        except PayloadError as exc:
            preview = body[:200].decode("utf-8", "replace") if isinstance(body, bytes) else str(body)[:200]
            self.log.write({"event": "rejected", "reason": str(exc), "remote": remote, "body": preview})
            return 400, {"error": str(exc)}
        queued = suppressed = 0
        for event in events:
            alert = event["alert"]
            record = {"alertname": alert["labels"]["alertname"], "host": event["opskit"]["host"],
                      "status": alert["status"], "labels": alert["labels"],
                      "dry_run": event["opskit"]["dry_run"]}
            key = event["opskit"]["key"]
            if self.dedup.admit(key):
                await self.queue.put(event)
                queued += 1
                self.log.write(record, event="received")
            else:
                suppressed += 1
                self.log.write(record, event="suppressed",
                               reason="repeat within %gs window" % self.dedup.window,
                               seconds_since_last=round(self.dedup.seconds_since(key) or 0, 1))
        return 202, {"queued": queued, "suppressed": suppressed}


def build_app(receiver, path):
    """The aiohttp application: POST <path> (webhook), GET /health."""

    async def alerts(request):
        body = await request.read()
        status, answer = await receiver.handle_body(body, remote=request.remote or "")
        return web.json_response(answer, status=status)

    async def health(_request):
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post(path, alerts)
    app.router.add_get("/health", health)
    return app


async def main(queue, args):
    """Entry point ansible-rulebook calls: serve until cancelled."""
    settings = parse_args(args)
    receiver = Receiver(queue, settings)
    runner = web.AppRunner(build_app(receiver, settings["path"]))
    await runner.setup()
    site = web.TCPSite(runner, settings["host"], settings["port"])
    await site.start()
    LOG.info("listening on %s:%d%s (window %gs, dry run %s, action log %s)",
             settings["host"], settings["port"], settings["path"], settings["window_seconds"],
             settings["dry_run"], settings["action_log"] or "-")
    try:
        await asyncio.Future()
    finally:
        await runner.cleanup()


if __name__ == "__main__":  # pragma: no cover - manual run: print the events
    class _PrintQueue:
        async def put(self, event):
            print(json.dumps(event, indent=2))

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {"port": 5001}))
