"""`python -m runtime` / `streamsuites-runtime`: run, check, init, status."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from config import ConfigError, load_config
from config.render import effective_config_toml, starter_config
from exports.files import RUNTIME_VERSION
from runtime.exit_codes import ExitCode, InitError, StartupError
from runtime.tree import export_mirrors


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runtime",
        description="StreamSuites runtime: supervised livestream automation for many creators.",
    )
    parser.add_argument("--version", action="version", version=RUNTIME_VERSION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the runtime until SIGINT/SIGTERM")
    run.add_argument("--config", required=True, type=Path, help="the TOML configuration file")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"])
    run.add_argument("--data-dir", type=Path, help="override runtime.data_dir")
    run.add_argument("--port", type=int, help="override http.port (0: any free port)")
    run.add_argument("--host", help="override http.host")

    check = commands.add_parser("check", help="validate and print the effective configuration")
    check.add_argument("--config", required=True, type=Path)

    init = commands.add_parser("init", help="write a starter configuration")
    init.add_argument("path", type=Path)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    status = commands.add_parser("status", help="ask a running instance for its status")
    status.add_argument("--config", required=True, type=Path)
    status.add_argument("--timeout", type=float, default=3.0)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "runtime.log_level": getattr(args, "log_level", None),
        "runtime.data_dir": getattr(args, "data_dir", None),
        "http.port": getattr(args, "port", None),
        "http.host": getattr(args, "host", None),
    }


def cmd_run(args: argparse.Namespace) -> int:
    from runtime.app import boot, serve

    config = load_config(args.config, overrides=_overrides(args))
    export_mirrors(config)  # what `check` checks beyond the file, before anything starts
    booted = boot(config)
    try:
        return int(trio.run(serve, booted))
    finally:
        booted.pid_file.release()


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    export_mirrors(config)
    sys.stdout.write(effective_config_toml(config))
    print(f"# {args.config}: configuration is valid", file=sys.stderr)
    return ExitCode.OK


def cmd_init(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.exists() and not args.force:
        print(f"{path} already exists; use --force to overwrite it", file=sys.stderr)
        return ExitCode.CONFIG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_config(), encoding="utf-8")
    except OSError as exc:
        print(f"cannot write {path}: {exc.strerror}", file=sys.stderr)
        return ExitCode.INIT
    print(f"wrote {path}; check it with: python -m runtime check --config {path}")
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    config = load_config(args.config)
    host, port = config.http.host, config.http.port
    announce = config.runtime.data_dir / "http.json"
    try:
        found = json.loads(announce.read_text(encoding="utf-8"))
        host, port = found["host"], found["port"]
    except (OSError, ValueError, KeyError):
        pass  # not running, or an older instance: fall back to the configured address
    url = f"http://{host}:{port}/status"
    try:
        response = httpx.get(url, timeout=args.timeout)
    except httpx.HTTPError as exc:
        print(f"no runtime answering at {url}: {type(exc).__name__}", file=sys.stderr)
        return ExitCode.STARTUP
    body = response.json()
    print(f"{body.get('status', '?')} (version {body.get('version', '?')}, {url})")
    for row in body.get("components", []):
        print(f"  {row['state']:<10} {row['path']}  restarts={row['restarts']}")
    return ExitCode.OK if response.status_code == 200 else ExitCode.CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    handlers = {"run": cmd_run, "check": cmd_check, "init": cmd_init, "status": cmd_status}
    try:
        return int(handlers[args.command](args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG
    except (InitError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return ExitCode.OK
