"""``agent-app`` command line.

    agent-app serve          HTTP API (uvicorn, AGENT_WORKERS processes)
    agent-app worker         queue worker (runbook 001), /health and /metrics on AGENT_PORT
    agent-app run            serve or worker, as AGENT_ROLE says
    agent-app check-config   validate the environment [--connect: also reach the store]
    agent-app version

Exit codes: 0 ok, 2 invalid configuration (each bad variable named on
stderr), 1 the store cannot work (e.g. pgvector missing) or could not be
reached with ``--connect``; 3 uvicorn could not start the application.

This module must not import prometheus_client before
``PROMETHEUS_MULTIPROC_DIR`` is set, so the application modules are imported
inside the functions.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
from typing import List, Optional

from . import get_version
from .config import Config, ConfigError, load_config

PROG = "agent-app"
log = logging.getLogger("agent_app.cli")


def _config_or_exit(**overrides) -> Optional[Config]:
    try:
        return load_config(**overrides)
    except ConfigError as exc:
        for line in exc.lines():
            print(f"{PROG}: configuration error: {line}", file=sys.stderr)
        return None


def prepare_multiprocess_dir(config: Config, role: str) -> str:
    """Fresh ``$AGENT_STATE_DIR/prometheus-<role>`` for prometheus_client's multiprocess mode."""
    path = os.path.join(os.path.abspath(config.state_dir), f"prometheus-{role}")
    if os.path.isdir(path):
        for entry in os.listdir(path):
            target = os.path.join(path, entry)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
    os.makedirs(path, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.environ.pop("prometheus_multiproc_dir", None)
    return path


def _preflight(config: Config) -> int:
    """Directories, shared state and the store schema, once, before any worker starts."""
    from .state import SharedState
    from .stores import StoreError, StoreSetupError, make_store

    for directory in [config.state_dir] + ([config.trace_dir] if config.trace else []):
        os.makedirs(directory, exist_ok=True)
    if config.dynamic_tools_dir:
        from .tools import ToolManager

        ToolManager(config.dynamic_tools_dir).ensure()
    SharedState(config.state_dir).reset_stats()
    try:
        store = make_store(config)
        try:
            store.init()
            store.check()
        finally:
            store.close()
    except StoreSetupError as exc:
        log.critical("cannot start: %s", exc)
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        if config.profile.fail_fast:
            log.critical("cannot start (ENVIRONMENT=test fails fast): store unavailable: %s", exc)
            print(f"{PROG}: store unavailable: {exc}", file=sys.stderr)
            return 1
        log.error("store unavailable at start (%s); starting anyway, /health answers 503", exc)
    return 0


def _run_server(role: str) -> int:
    config = _config_or_exit(role=role)
    if config is None:
        return 2
    if os.environ.get("AGENT_ROLE") and os.environ["AGENT_ROLE"] != role:
        print(f"{PROG}: note: AGENT_ROLE={os.environ['AGENT_ROLE']} but running '{role}'", file=sys.stderr)
    os.environ["AGENT_ROLE"] = role
    from .logs import setup_logging

    try:
        setup_logging(config.log_file, config.effective_log_level)
    except OSError as exc:
        print(f"{PROG}: cannot open AGENT_LOG_FILE {config.log_file}: {exc}", file=sys.stderr)
        return 1
    prepare_multiprocess_dir(config, role)
    rc = _preflight(config)
    if rc:
        return rc
    import uvicorn

    workers = config.workers if role == "api" else 1
    log.info("starting %s %s: role=%s bind=%s:%d workers=%d", PROG, get_version(), role,
             config.bind, config.port, workers)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the
    # signal; this handler turns that into a clean exit status 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    try:
        uvicorn.run(
            "agent_app.app:create_app" if role == "api" else "agent_app.app:create_worker_app",
            factory=True,
            host=config.bind,
            port=config.port,
            workers=workers,
            log_config=None,
            access_log=True,
            timeout_graceful_shutdown=15,
            lifespan="on",
        )
    except SystemExit as exc:
        if exc.code not in (0, None):
            log.error("%s exited with status %s", PROG, exc.code)
            raise
    log.info("%s stopped", PROG)
    return 0


def _exit_cleanly(signum, frame):
    raise SystemExit(0)


def check_config(connect: bool) -> int:
    config = _config_or_exit()
    if config is None:
        return 2
    print("configuration OK")
    for key, value in config.summary().items():
        if value is not None:
            print(f"  {key}={value}")
    for key, value in config.profile.as_dict().items():
        print(f"  profile.{key}={value}")
    if config.admin_token and len(config.admin_token) < 16:
        print("warning: ADMIN_TOKEN is shorter than 16 characters")
    if not connect:
        return 0
    from .stores import StoreError, StoreSetupError, make_store

    try:
        store = make_store(config)
        try:
            store.init()
            components = store.health()
        finally:
            store.close()
    except (StoreError, StoreSetupError) as exc:
        print(f"{PROG}: store check failed: {exc}", file=sys.stderr)
        return 1
    bad = {k: v for k, v in components.items() if v != "ok"}
    for key, value in components.items():
        print(f"  {key}: {value}")
    if bad:
        print(f"{PROG}: store check failed: {bad}", file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="opskit reference agent service")
    parser.add_argument("--version", action="version", version=f"{PROG} {get_version()}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP API with AGENT_WORKERS uvicorn workers")
    sub.add_parser("worker", help="run the queue worker (serves /health and /metrics too)")
    sub.add_parser("run", help="serve or worker, as AGENT_ROLE says")
    check = sub.add_parser("check-config", help="validate the environment variables")
    check.add_argument("--connect", action="store_true", help="also create the schema and check the store")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)

    if args.command == "serve":
        return _run_server("api")
    if args.command == "worker":
        return _run_server("worker")
    if args.command == "run":
        config = _config_or_exit()
        return 2 if config is None else _run_server(config.role)
    if args.command == "check-config":
        return check_config(args.connect)
    if args.command == "version":
        print(get_version())
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
