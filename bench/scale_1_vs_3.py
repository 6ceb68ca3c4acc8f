"""Requests per second and p95 latency of 1 vs 3 instances behind HAProxy, in one run.

Scales a service on a host with scale.yml to 1 instance, loads its balancer
for --seconds, scales to 3, loads it again, prints both sides and the ratio,
and scales back to where it was. Not a timed test: run it by hand.

    .venv/bin/molecule converge -s scale          # a host with semibot-runtime behind HAProxy
    OPSKIT_ADMIN_TOKEN=molecule-admin-token .venv/bin/python bench/scale_1_vs_3.py --inventory ~/.ansible/tmp/molecule.*.scale/inventory \
        --container h6-scale

The load goes only to the container named (or --address); POST /api/v1/turns
by default (each turn is planned and written to the service's store), or
--path /health for the lighter endpoint.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _loadgen import Load  # noqa: E402


def scale(args, count):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", args.inventory,
           os.path.join(PROJECT, "scale.yml"), "-e", "scale_service=%s" % args.service,
           "-e", "scale_instances=%d" % count]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"), OPSKIT_WORK_DIR=PROJECT)
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT, check=False)
    if run.returncode != 0:
        sys.exit("scale.yml to %d instance(s) failed:\n%s" % (count, (run.stdout + run.stderr)[-3000:]))


def measure(args):
    body = None if args.path == "/health" else {"thread_id": "bench-%d" % time.time(), "text": "benchmark turn"}
    method = "GET" if body is None else "POST"
    # warm-up, then the measured run
    Load(args.address, args.port, path=args.path, method=method, body=body, threads=args.threads, duration=2).run()
    return Load(args.address, args.port, path=args.path, method=method, body=body, threads=args.threads,
                duration=args.seconds, max_requests=10 ** 7).run()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", help="inventory with the host (default: the Molecule scenario 'scale')")
    parser.add_argument("--container", default="h6-scale", help="container whose address is loaded")
    parser.add_argument("--address", help="address of the balancer (default: the container's)")
    parser.add_argument("--port", type=int, default=9000, help="balancer port")
    parser.add_argument("--service", default="semibot-runtime")
    parser.add_argument("--path", default="/api/v1/turns")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if not args.inventory:
        found = sorted(glob.glob(os.path.expanduser("~/.ansible/tmp/molecule.*.scale/inventory")))
        if not found:
            sys.exit("no --inventory and no converged Molecule scenario 'scale' (molecule converge -s scale)")
        args.inventory = found[-1]
    if not args.address:
        args.address = subprocess.run(
            ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", args.container],
            capture_output=True, text=True, check=True).stdout.split()[0]
    results = {}
    try:
        for count in (1, 3):
            scale(args, count)
            time.sleep(2)
            results[count] = measure(args)
            print("%d instance(s): %s" % (count, json.dumps(results[count])))
    finally:
        scale(args, 1)
    one, three = results[1], results[3]
    print()
    print("%-14s %12s %12s %10s" % ("", "1 instance", "3 instances", "ratio"))
    print("%-14s %12.1f %12.1f %9.2fx" % ("requests/s", one["rps"], three["rps"], three["rps"] / one["rps"]))
    print("%-14s %12.1f %12.1f %9.2fx" % ("p95 ms", one["p95_ms"], three["p95_ms"], one["p95_ms"] / three["p95_ms"]))
    print("%-14s %12d %12d" % ("failed", one["failed"], three["failed"]))
    print("(%d threads, %.0f s each, %s %s on %s:%d; the machine's cores are shared by both runs)"
          % (args.threads, args.seconds, "GET" if args.path == "/health" else "POST", args.path, args.address, args.port))


if __name__ == "__main__":
    main()
