"""Process exit codes and the exceptions that map onto them.

`python -m runtime` ends with one of these codes so that service managers (systemd, NSSM,
scripts) can tell a configuration mistake from a broken data folder from a port conflict
without parsing log output:

- `OK` (0): a clean stop (signal, `stop` command, end of a one-shot subcommand).
- `CONFIG` (1): the configuration file is missing or invalid; the message names the file and
  the key path.
- `INIT` (2): the data folder is unusable (not writable, not a folder), or the database is
  corrupt or was written by a newer version of the runtime. A command-line usage error also
  exits 2 (argparse's convention): both mean "fix how the runtime is started".
- `STARTUP` (3): the runtime could not start its services: the HTTP port is in use, or another
  instance is already running on the same data folder. `status`: no instance runs on the data
  folder, it serves no HTTP, or another process answers on its port.
- `FAILED` (4): the runtime started but its supervision tree gave up (restart intensity ran out
  at the root); a service manager should restart the process. `status`: the instance answers
  but is not `ok`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit status of the runtime process (see the module docstring for the meaning of each)."""

    OK = 0
    CONFIG = 1
    INIT = 2
    STARTUP = 3
    FAILED = 4


class _UserFacingError(Exception):
    """Base of errors whose message is printed to the user as is, with an exit code."""

    exit_code: ExitCode

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InitError(_UserFacingError):
    """Initialisation failed (exit code 2): unusable data folder, corrupt or newer database.

    `message` is shown to the user verbatim, so it says what is wrong and where, never a secret.
    """

    exit_code = ExitCode.INIT


class StartupError(_UserFacingError):
    """Start-up failed (exit code 3): port in use, another instance on the same data folder.

    `message` is shown to the user verbatim.
    """

    exit_code = ExitCode.STARTUP


__all__ = ["ExitCode", "InitError", "StartupError"]
