"""Operating-system helpers: run commands as the PostgreSQL OS user, find and signal server processes.

PostgreSQL refuses to run as root, so initdb, pg_ctl, pg_basebackup and repmgr run as the
PostgreSQL OS user (``postgres``).  The harness itself usually runs as root (tests, ``make demo``);
when it already runs as that OS user it runs the commands directly.

Server processes are always found through their data directory (the postmaster and every backend
have it as their working directory) or through a recorded PID whose working directory is checked,
never by process name: other engineers' servers and other clusters run on the same machine.
"""

from __future__ import annotations

import dataclasses
import grp
import logging
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .errors import CommandFailed, HarnessError

LOG = logging.getLogger("harness")


@dataclasses.dataclass(frozen=True)
class OsUser:
    """The OS account the servers run as (uid/gid resolved once, from the name)."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def lookup(cls, name: str) -> "OsUser":
        try:
            entry = pwd.getpwnam(name)
        except KeyError as exc:
            raise HarnessError(f"OS user {name!r} does not exist; install PostgreSQL (it creates it)") from exc
        return cls(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir)

    @property
    def group_name(self) -> str:
        return grp.getgrgid(self.gid).gr_name

    def chown(self, path: Path) -> None:
        """Give ``path`` to this user (only root can, and only root needs to)."""
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)


@dataclasses.dataclass
class CommandResult:
    """One finished command: what ran, as whom, and what it said."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class CommandRunner:
    """Runs commands as the PostgreSQL OS user with a small, predictable environment.

    The environment is built from scratch rather than inherited: a stray ``PGHOST``, ``PGPORT``
    or ``PGPASSWORD`` in the caller's shell would otherwise silently redirect a command to
    another server.  ``PGPASSFILE`` points at the cluster's password file, so no password is
    ever put on a command line (where ``ps`` would show it).

    Every command is appended to ``transcript`` so that tests can check, for instance, that the
    password never appeared in any output.
    """

    def __init__(self, user: OsUser, bindir: Path, passfile: Path | None, workdir: Path | None = None) -> None:
        self.user = user
        self.bindir = bindir
        self.passfile = passfile
        self.workdir = workdir
        self.transcript: list[CommandResult] = []

    def environment(self) -> dict[str, str]:
        """The environment every command runs with (also handy for ``repmgr`` service commands)."""
        env = {
            "PATH": f"{self.bindir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": self.user.home,
            "USER": self.user.name,
            "LOGNAME": self.user.name,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        if self.passfile is not None:
            env["PGPASSFILE"] = str(self.passfile)
        return env

    def run(
        self,
        argv: list[str],
        *,
        input_text: str | None = None,
        timeout: float = 120.0,
        check: bool = True,
        hint: str | Callable[[], str] = "",
        detach: bool = False,
    ) -> CommandResult:
        """Run ``argv`` as the OS user and wait for it (at most ``timeout`` seconds).

        ``hint`` (text, or a function called after a failure) is added to the error message.
        ``detach`` starts the command in a new session: used for ``pg_ctl start`` so that the
        postmaster it leaves behind is not in the caller's process group (a Ctrl-C on pytest
        then does not take the servers down half-way; the harness stops them itself).
        """
        cwd = self.workdir if self.workdir is not None and self.workdir.is_dir() else Path("/")
        kwargs: dict[str, object] = {}
        if os.geteuid() == 0 and self.user.uid != 0:
            kwargs.update(user=self.user.uid, group=self.user.gid, extra_groups=[])
        elif os.geteuid() != self.user.uid:
            raise HarnessError(
                f"the harness must run as root or as {self.user.name!r} to run PostgreSQL commands "
                f"(running as uid {os.geteuid()})"
            )
        started = time.monotonic()
        try:
            proc = subprocess.run(  # noqa: S603 - argv built by the harness, never a shell
                argv,
                input=input_text,
                stdin=None if input_text is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.environment(),
                cwd=cwd,
                start_new_session=detach,
                check=False,
                **kwargs,  # type: ignore[arg-type]
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandFailed(
                argv, -1, _text(exc.stdout), _text(exc.stderr), f"timed out after {timeout} s\n{_hint_text(hint)}"
            ) from exc
        result = CommandResult(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        self.transcript.append(result)
        LOG.debug("ran %s -> rc %s in %.2fs", " ".join(argv), proc.returncode, result.seconds)
        if check and proc.returncode != 0:
            raise CommandFailed(argv, proc.returncode, proc.stdout, proc.stderr, _hint_text(hint))
        return result

    def pg(self, program: str, *args: str, **kwargs: object) -> CommandResult:
        """Run a program from the PostgreSQL bin directory (pg_ctl, initdb, repmgr ...)."""
        return self.run([str(self.bindir / program), *args], **kwargs)  # type: ignore[arg-type]


def _hint_text(hint: str | Callable[[], str]) -> str:
    """A hint may be computed after the failure (e.g. the tail of a server log written meanwhile)."""
    return hint() if callable(hint) else hint


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def detect_bindir() -> Path:
    """The PostgreSQL bin directory: ``PGHA_PG_BINDIR``, else the newest /usr/lib/postgresql/N/bin.

    Debian keeps the server binaries (pg_ctl, initdb, postgres, repmgr) out of PATH, in a
    per-version directory; the newest installed major version is the one to test with.
    """
    override = os.environ.get("PGHA_PG_BINDIR")
    if override:
        return Path(override)
    candidates = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bindir / "pg_ctl").exists() and bindir.parent.name.isdigit():
            candidates.append((int(bindir.parent.name), bindir))
    if candidates:
        return max(candidates)[1]
    raise HarnessError("no PostgreSQL server binaries found: set PGHA_PG_BINDIR or install postgresql-15")


def read_postmaster_pid(datadir: Path) -> int | None:
    """The postmaster PID written in ``datadir/postmaster.pid`` (first line), if the file exists."""
    try:
        first = (datadir / "postmaster.pid").read_text().splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def process_state(pid: int) -> str | None:
    """The state letter of ``pid`` from /proc (R, S, T for stopped, Z for zombie ...), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: the state follows the last ')'.
    return stat[stat.rfind(")") + 2 :].split(" ", 1)[0]


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` is a live process.

    A zombie counts as gone: the postmaster is reparented to PID 1 when pg_ctl exits, and a PID 1
    that is slow to reap would otherwise make a crashed server look alive.
    """
    if pid is None or pid <= 0:
        return False
    state = process_state(pid)
    return state is not None and state not in ("Z", "X")


def process_cwd(pid: int) -> str | None:
    """The working directory of ``pid`` (without the ' (deleted)' the kernel appends), or None."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
    return cwd.removesuffix(" (deleted)")


def server_processes(datadir: Path, postgres_binary: Path) -> list[int]:
    """Every process of the server running from ``datadir``: its postmaster and all its children.

    PostgreSQL's postmaster changes into its data directory and its children inherit that working
    directory, so "working directory is this data directory and executable is this postgres
    binary" finds exactly this server, whatever its state (running, stopped by SIGSTOP, orphaned
    backends of a killed postmaster), and nothing else on the machine.
    """
    wanted = os.path.realpath(datadir)
    binary = os.path.realpath(postgres_binary)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if process_cwd(pid) != wanted:
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
        except OSError:
            continue
        if exe == binary and pid_alive(pid):
            found.append(pid)
    return sorted(found)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/PID/task/*/children)."""
    children: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:  # the process ended while its tasks were listed: it has no children now
        return children
    for task in tasks:
        try:
            children.extend(int(word) for word in task.read_text().split())
        except OSError:
            continue
    return children


def signal_pids(pids: list[int], signum: signal.Signals) -> None:
    """Send ``signum`` to each PID, ignoring the ones that are already gone."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
