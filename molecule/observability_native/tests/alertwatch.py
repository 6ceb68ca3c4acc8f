"""Run a command, then watch Alertmanager's API (/api/v2/alerts) until the
named alerts are all firing (or all gone), and print, as JSON, how many
seconds after the command each one reached that state. Runs on the test host
so the timings do not include the test driver's overhead.

  alertwatch.py --run 'systemctl stop el-bot' --firing ElAgentMetricsDown --timeout 90
  alertwatch.py --run 'systemctl start el-bot' --resolved ElAgentMetricsDown
  --label k=v: count only alerts with these labels
"""
import argparse
import json
import subprocess
import sys
import time
import urllib.request


def active_alerts(url):
    with urllib.request.urlopen(url + "/api/v2/alerts?active=true&silenced=false&inhibited=false", timeout=5) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="")
    ap.add_argument("--firing", default="")
    ap.add_argument("--resolved", default="")
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--alertmanager", default="http://127.0.0.1:9093")
    args = ap.parse_args()
    want_firing = args.firing != ""
    names = [n for n in (args.firing or args.resolved).split(",") if n]
    labels = dict(kv.split("=", 1) for kv in args.label)

    start = time.monotonic()
    if args.run:
        subprocess.run(args.run, shell=True, check=True)
    reached = {}
    seen = {}
    while time.monotonic() - start < args.timeout and len(reached) < len(names):
        now = time.monotonic() - start
        try:
            alerts = active_alerts(args.alertmanager)
        except OSError as exc:
            print("alertmanager: %s" % exc, file=sys.stderr)
            time.sleep(0.5)
            continue
        present = {
            a["labels"]["alertname"]: a for a in alerts
            if all(a["labels"].get(k) == v for k, v in labels.items())
        }
        for name in names:
            if name in present:
                seen[name] = present[name]["labels"]
            if name not in reached and (name in present) == want_firing:
                reached[name] = round(now, 1)
        time.sleep(0.5)
    json.dump({"reached": reached, "labels": seen, "elapsed": round(time.monotonic() - start, 1)}, sys.stdout)
    return 0 if len(reached) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
