"""One PostgreSQL server of a test cluster, with the verbs a runbook uses: start, stop, crash, hang, resume."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from . import pgconf
from .errors import CommandFailed, HarnessError
from .osutil import children_of, pid_alive, process_state, read_postmaster_pid, signal_pids
from .waiting import wait_until

if TYPE_CHECKING:
    from .cluster import Cluster


class Node:
    """A PostgreSQL server on its own loopback address, run by the PostgreSQL OS user.

    Everything about a node is found through its data directory: its postmaster PID comes from
    ``postmaster.pid``, never from a process name, so several clusters (and other engineers'
    servers) can run on the same machine without the harness touching them.
    """

    def __init__(self, cluster: "Cluster", node_id: int, address: str) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self.name = f"node{node_id}"
        self.address = address
        self.port = cluster.port
        self.node_dir: Path = cluster.cluster_dir / self.name
        self.datadir: Path = self.node_dir / "data"
        #: Own socket directory per node: the socket file is named after the port, which all nodes share.
        self.socket_dir: Path = self.node_dir / "socket"
        self.logfile: Path = self.node_dir / "postgresql.log"
        #: Written by ``Cluster.build_with_repmgr()`` only.
        self.repmgr_conf: Path = self.node_dir / "repmgr.conf"
        #: repmgr-style conninfo: the password comes from the passfile, never from here.
        self.conninfo: str = pgconf.conninfo(address, self.port)

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.address}:{self.port} {self.datadir}>"

    # -- state -----------------------------------------------------------------------------

    def postmaster_pid(self) -> int | None:
        """The PID in postmaster.pid, if that file exists (the server may still be gone: see is_running)."""
        return read_postmaster_pid(self.datadir)

    def is_running(self) -> bool:
        """True if the postmaster of this data directory is alive (a hung server counts as running).

        Both checks are needed: postmaster.pid survives a SIGKILL, and ``pg_ctl status`` is the
        PostgreSQL tools' own view of the same file.
        """
        if not pid_alive(self.postmaster_pid()):
            return False
        status = self.cluster.runner.pg("pg_ctl", "status", "-D", str(self.datadir), check=False, timeout=30)
        return status.returncode == 0

    def is_hung(self) -> bool:
        """True if the postmaster is stopped by SIGSTOP (see hang())."""
        pid = self.postmaster_pid()
        return pid is not None and process_state(pid) == "T"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: int = 60) -> None:
        """Start the server with ``pg_ctl start -w`` (returns once it accepts connections).

        The server log goes to ``self.logfile``.  Starting a running server does nothing.
        """
        if self.is_running():
            return
        self.cluster.runner.pg(
            "pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", str(timeout),
            timeout=timeout + 30,
            detach=True,
            hint=self._log_hint,
        )
        self.cluster.record_postmaster_pid(self)

    def stop(self, mode: str = "fast", timeout: int = 60) -> None:
        """Stop the server with ``pg_ctl stop -m MODE -w`` (smart, fast or immediate).

        A hung server is resumed first: a stopped process cannot act on the shutdown signal.
        Stopping a stopped server does nothing.
        """
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        if not self.is_running():
            return
        pid = self.postmaster_pid()
        self.resume()
        try:
            self.cluster.runner.pg(
                "pg_ctl", "stop", "-D", str(self.datadir), "-m", mode, "-w", "-t", str(timeout),
                timeout=timeout + 30,
                hint=self._log_hint,
            )
        except CommandFailed:
            if self.is_running():
                raise
        # pg_ctl -w returns when postmaster.pid is gone; wait for the process itself as well.
        wait_until(lambda: not pid_alive(pid), timeout=timeout, what=f"{self.name}'s postmaster has exited")

    def restart(self, mode: str = "fast", timeout: int = 60) -> None:
        """Stop (``mode``) and start again; the log keeps going to the same file."""
        self.stop(mode=mode, timeout=timeout)
        self.start(timeout=timeout)

    def crash(self) -> None:
        """Crash the server: ``pg_ctl -m immediate stop``.

        Every process exits at once without a checkpoint and every client connection is closed
        at once (a client waiting on its connection sees it in milliseconds).  The next start
        runs crash recovery.
        """
        self.stop(mode="immediate")

    def hang(self, whole_server: bool = False) -> None:
        """Freeze the postmaster with SIGSTOP (``resume()`` undoes it).

        Only the postmaster stops (unless ``whole_server``): the backends, the WAL sender/receiver,
        the checkpointer keep running.  For a test this means:

        * a *new* connection hangs: the kernel completes the TCP handshake but nobody reads the
          startup packet, so the client waits until its connect_timeout;
        * an *existing* connection keeps working, and replication keeps streaming;
        * nothing that needs the postmaster happens (no new backend, no restart after a crash of a
          backend, no reaction to pg_ctl stop until resumed).

        ``whole_server=True`` also stops every child of the postmaster: existing connections and
        streaming then hang too, as on a frozen machine.
        """
        pid = self.postmaster_pid()
        if not pid_alive(pid):
            raise HarnessError(f"{self.name} is not running: nothing to hang")
        assert pid is not None
        pids = [pid] + (children_of(pid) if whole_server else [])
        signal_pids(pids, signal.SIGSTOP)
        wait_until(
            lambda: all(process_state(p) in ("T", None, "Z") for p in pids),
            timeout=10,
            what=f"{self.name}'s processes are stopped",
        )

    def resume(self) -> None:
        """Continue a hung server (SIGCONT to the postmaster and its children; harmless if not hung)."""
        pid = self.postmaster_pid()
        if not pid_alive(pid):
            return
        assert pid is not None
        pids = [pid] + children_of(pid)
        signal_pids(pids, signal.SIGCONT)
        wait_until(
            lambda: all(process_state(p) != "T" for p in pids),
            timeout=10,
            what=f"{self.name}'s processes are running again",
        )

    # -- SQL -------------------------------------------------------------------------------

    def connect(
        self,
        dbname: str = "repmgr",
        user: str = "repmgr",
        connect_timeout: int = 2,
        autocommit: bool = True,
        **kwargs: Any,
    ) -> psycopg.Connection[Any]:
        """A psycopg connection over TCP to this node's address, with the cluster password.

        Note: libpq (and psycopg) treat a connect_timeout of 1 as 2 seconds, the minimum.
        """
        return psycopg.connect(
            host=self.address,
            port=self.port,
            dbname=dbname,
            user=user,
            password=self.cluster.password,
            connect_timeout=connect_timeout,
            autocommit=autocommit,
            **kwargs,
        )

    def sql(
        self,
        query: str,
        params: Sequence[Any] = (),
        dbname: str = "repmgr",
        user: str = "repmgr",
        connect_timeout: int = 2,
    ) -> list[tuple[Any, ...]]:
        """Run one statement on a fresh autocommit connection and return its rows ([] if none)."""
        with self.connect(dbname=dbname, user=user, connect_timeout=connect_timeout) as conn:
            cursor = conn.execute(query, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description is not None else []

    def accepts_write(self, table: str = "ledger") -> bool:
        """True if an INSERT of id -1 into ``table`` (database postgres) commits here within 2 s."""
        if not self.is_running() or self.is_hung():
            return False
        try:
            with self.connect(dbname="postgres", options="-c statement_timeout=2000") as conn:
                conn.execute("SET synchronous_commit = local")
                conn.execute(f"INSERT INTO {table} (id) VALUES (-1)")  # table: the test's own constant
                return True
        except psycopg.Error:
            return False

    def in_recovery(self) -> bool:
        """True on a standby, False on a primary (``pg_is_in_recovery()``)."""
        return bool(self.sql("SELECT pg_is_in_recovery()")[0][0])

    def psql(self, script: str, dbname: str = "postgres") -> str:
        """Run an SQL script with psql as the postgres OS user over the node's Unix socket.

        The script is passed on standard input, not on the command line, so that passwords in
        it (CREATE ROLE ... PASSWORD) never show up in ``ps``.  Stops at the first error.
        """
        result = self.cluster.runner.pg(
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir), "-p", str(self.port),
            "-U", self.cluster.os_user.name, "-d", dbname,
            input_text=script,
            timeout=60,
        )
        return result.stdout

    # -- logs ------------------------------------------------------------------------------

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server log: the first thing to read when a node misbehaves."""
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _log_hint(self) -> str:
        return f"--- {self.logfile} (tail) ---\n{self.log_tail(15)}"
