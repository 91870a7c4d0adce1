"""Errors raised by the test harness.

They carry enough context (the command, its exit code, the tail of its output, the
condition waited for) that a failing test explains itself without re-running it.
None of them ever contains the cluster password: the harness never puts it on a
command line, and its messages are built only from command lines and outputs.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of everything the harness raises on purpose."""


class CommandFailed(HarnessError):
    """A command the harness ran (initdb, pg_ctl, pg_basebackup, repmgr ...) failed."""

    def __init__(self, argv: list[str], returncode: int, stdout: str, stderr: str, hint: str = "") -> None:
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        message = f"command failed (rc {returncode}): {' '.join(argv)}"
        if stderr.strip():
            message += "\n--- stderr (tail) ---\n" + _tail(stderr)
        if stdout.strip():
            message += "\n--- stdout (tail) ---\n" + _tail(stdout)
        if hint:
            message += "\n" + hint
        super().__init__(message)


class WaitTimeout(HarnessError):
    """A condition waited for with ``wait_until`` did not become true before its deadline."""


class StateNotFound(HarnessError):
    """No persisted cluster state: the cluster was never prepared, or was destroyed."""


def _tail(text: str, lines: int = 20) -> str:
    """The last ``lines`` lines of ``text``: enough to see an error, short enough to read."""
    return "\n".join(text.rstrip().splitlines()[-lines:])
