"""`python -m runtime` / `streamsuites-runtime`: run, check, init, status, login, logout,
accounts."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import trio

from config import ConfigError, load_config
from config.render import effective_config_toml, starter_config
from config.untrusted_json import loads_untrusted
from exports.files import RUNTIME_VERSION
from runtime.exit_codes import ExitCode, InitError, StartupError
from runtime.pidfile import running_pid
from runtime.shutdown import exit_now
from runtime.tree import RuntimePaths, export_mirrors


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

    status = commands.add_parser(
        "status",
        help="ask the instance running on a data folder for its status",
        description="Find the instance through <data folder>/http.json (the data folder of "
        "--config, or --data-dir) and print its GET /status. Needs no secrets.",
    )
    status.add_argument("--config", type=Path, help="the TOML configuration file")
    status.add_argument("--data-dir", type=Path, help="the data folder (overrides --config)")
    status.add_argument("--timeout", type=float, default=3.0)

    login = commands.add_parser("login", help="log an [[accounts]] entry in and store its token")
    login.add_argument("account", help="the account id")
    login.add_argument("--config", required=True, type=Path)
    login.add_argument(
        "--flow",
        choices=["device", "code"],
        help="device code (default for Twitch and YouTube) or authorization code with a "
        "loopback redirect (Kick; Twitch confidential clients)",
    )

    logout = commands.add_parser("logout", help="revoke an account's tokens and forget them")
    logout.add_argument("account", help="the account id")
    logout.add_argument("--config", required=True, type=Path)

    accounts = commands.add_parser("accounts", help="list the accounts and their token state")
    accounts.add_argument("--config", required=True, type=Path)
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
    from runtime.heap import keep_large_blocks_mapped, limit_heaps

    keep_large_blocks_mapped()  # before the configuration's text, the first large block
    limit_heaps()  # before the worker threads: a thread keeps the heap it started with
    config = load_config(args.config, overrides=_overrides(args))
    export_mirrors(config)  # what `check` checks beyond the file, before anything starts
    booted = boot(config)
    try:
        # As a program, a stop still running at its deadline ends the process (`serve`).
        program = bool(getattr(args, "program", False))
        return int(trio.run(partial(serve, booted, exit_at_deadline=program)))
    finally:
        booted.pid_file.release()
        # The interpreter's final collections walk every object left, which took a third of
        # a second and more after a busy run: time the shutdown deadline must also cover.
        # Nothing left needs collecting (files are closed, logs flushed at exit as usual).
        gc.freeze()


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


def _instance_of(data_dir: Path) -> tuple[dict[str, Any] | None, str]:
    """The `http.json` of the instance on `data_dir`, or None with a sentence saying why."""
    paths = RuntimePaths.under(data_dir)
    try:
        found = loads_untrusted(paths.http_file.read_bytes())
    except FileNotFoundError:
        pid = running_pid(paths.pid_file)
        if pid is None:
            return None, f"no runtime is running on data folder {data_dir}"
        return None, (
            f"the runtime on data folder {data_dir} (PID {pid}) serves no status: "
            "[http] is disabled or not started yet"
        )
    except OSError as exc:
        return None, f"cannot read {paths.http_file}: {exc.strerror or type(exc).__name__}"
    except ValueError:
        return None, f"{paths.http_file} is not readable JSON"
    fields = {"host": str, "port": int, "pid": int, "instance": str}
    if not isinstance(found, dict) or not all(
        isinstance(found.get(k), t) and not isinstance(found.get(k), bool)
        for k, t in fields.items()
    ):
        return None, f"{paths.http_file} was written by another version of the runtime"
    return found, ""


def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    if args.data_dir is not None:
        data_dir = args.data_dir
    else:
        # Only the data folder is read: secret references are not looked up.
        data_dir = load_config(args.config, resolve_secrets=False).runtime.data_dir
    found, why = _instance_of(data_dir)
    if found is None:
        print(why, file=sys.stderr)
        return ExitCode.STARTUP
    host = found["host"]
    url = f"http://{f'[{host}]' if ':' in host else host}:{found['port']}/status"
    try:
        response = httpx.get(url, timeout=args.timeout)
        body = loads_untrusted(response.content)
    except httpx.HTTPError as exc:
        print(
            f"no runtime is running on data folder {data_dir}: nothing answers at {url} "
            f"({type(exc).__name__}); its http.json is left from PID {found['pid']}",
            file=sys.stderr,
        )
        return ExitCode.STARTUP
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("instance") != found["instance"]:
        print(
            f"the process answering at {url} is not the runtime of data folder {data_dir} "
            f"(PID {found['pid']}); another program took its port",
            file=sys.stderr,
        )
        return ExitCode.STARTUP
    version, pid = body.get("version", "?"), body.get("pid")
    print(f"{body.get('status', '?')} (version {version}, PID {pid}, {url})")
    for row in body.get("components", []):
        print(f"  {row['state']:<10} {row['path']}  restarts={row['restarts']}")
    return ExitCode.OK if body.get("status") == "ok" else ExitCode.FAILED


def _token_store(config: Any) -> Any:
    from runtime.app import open_token_store_checked

    return open_token_store_checked(config)


def cmd_login(args: argparse.Namespace) -> int:
    from runtime.login import LoginFailed, login

    config = load_config(args.config)
    store = _token_store(config)
    try:
        trio.run(lambda: login(config, args.account, store, flow=args.flow))
    except LoginFailed as exc:
        print(f"login failed: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    return ExitCode.OK


def cmd_logout(args: argparse.Namespace) -> int:
    from runtime.login import LoginFailed, logout

    config = load_config(args.config)
    store = _token_store(config)
    try:
        trio.run(lambda: logout(config, args.account, store))
    except LoginFailed as exc:
        print(f"logout failed: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    return ExitCode.OK


def cmd_accounts(args: argparse.Namespace) -> int:
    from actors.accounts.store import TokenStoreError
    from runtime.login import describe_accounts, format_rows

    config = load_config(args.config)
    store = _token_store(config)
    try:
        print(format_rows(describe_accounts(config, store)))
    except TokenStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code.

    A command-line usage error exits 2 through argparse (with the usage printed), the code
    also used for initialisation errors: both mean "fix how it is started". As a program
    (no `argv`: `python -m runtime`, the console script), `run` ends the process itself
    once it stopped (`exit_now`), without returning.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    args.program = argv is None  # this process is the runtime (not a caller's test)
    if args.command == "status" and args.config is None and args.data_dir is None:
        parser.error("status needs --config or --data-dir")
    handlers = {
        "run": cmd_run,
        "check": cmd_check,
        "init": cmd_init,
        "status": cmd_status,
        "login": cmd_login,
        "logout": cmd_logout,
        "accounts": cmd_accounts,
    }
    try:
        code = int(handlers[args.command](args))
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
        if args.command == "run" and args.program:
            exit_now(code)
        return code
    except BrokenPipeError:
        # The reader went away (`status | head -1`): not an error of ours. Point stdout at
        # the null device so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return ExitCode.OK
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG
    except (InitError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return ExitCode.OK
