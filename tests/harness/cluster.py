"""A cluster of real PostgreSQL servers on loopback addresses: build it, break it, wait, tear it down.

Layout on disk (``data_root`` defaults to /tmp/pgha-testhosts)::

    <data_root>/<name>/cluster.json          state: addresses, port, dirs, password, postmaster PIDs (0600)
    <data_root>/<name>/pgpass                the passfile (0600, postgres); PGPASSFILE of every command
    <data_root>/<name>/node1/data            data directory
    <data_root>/<name>/node1/socket          Unix socket directory (own per node: one port for all)
    <data_root>/<name>/node1/postgresql.log  server log (pg_ctl -l)
    <data_root>/<name>/node1/repmgr.conf     only with build_with_repmgr()

The state file is what lets ``python -m harness destroy`` (or the next test run's ``prepare()``)
stop servers that an earlier, possibly killed, process started.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import string
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import psycopg
import yaml

from . import pgconf
from .errors import HarnessError, StateNotFound, WaitTimeout
from .node import Node
from .osutil import CommandResult, CommandRunner, OsUser, detect_bindir, pid_alive, process_cwd, server_processes, signal_pids
from .proxy import Proxy
from .waiting import wait_until as _wait_until

T = TypeVar("T")

DEFAULT_PORT = 55432
DEFAULT_NET_PREFIX = "127.0.0."
DEFAULT_DATA_ROOT = "/tmp/pgha-testhosts"
DEFAULT_FIRST_OCTET = 11
#: A proxy for node N listens on <prefix>(PROXY_OCTET_BASE + N) by default.
PROXY_OCTET_BASE = 100
REPMGR_USER = "repmgr"
REPMGR_DATABASE = "repmgr"
STATE_FORMAT = 1

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_PREFIX_RE = re.compile(r"^127\.(\d{1,3})\.(\d{1,3})\.$")


class Cluster:
    """N PostgreSQL servers, node1 .. nodeN, each on its own 127.x address and the same port.

    Defaults come from the environment so that ``make demo``, CI and a developer's shell can move
    the whole cluster without code changes: ``PGHA_PORT`` (55432), ``PGHA_NET_PREFIX``
    ("127.0.0."), ``PGHA_DATA_ROOT`` (/tmp/pgha-testhosts), ``PGHA_PG_BINDIR`` (detected).

    Creating the object touches nothing; ``prepare()`` cleans and creates the directories,
    ``build()`` or ``build_with_repmgr()`` make the servers, ``destroy()`` removes everything.
    As a context manager it prepares on entry and destroys on exit (set ``PGHA_KEEP_CLUSTER=1``
    to keep servers and data for a post-mortem; the next ``prepare()`` cleans them).
    """

    def __init__(
        self,
        name: str,
        nodes: int = 3,
        *,
        port: int | None = None,
        net_prefix: str | None = None,
        first_octet: int = DEFAULT_FIRST_OCTET,
        data_root: str | Path | None = None,
        os_user: str = "postgres",
        bindir: str | Path | None = None,
        password: str | None = None,
    ) -> None:
        if not _NAME_RE.match(name):
            raise ValueError(f"cluster name {name!r}: use letters, digits, '_', '.', '-' (at most 40)")
        self.name = name
        self.port = int(port if port is not None else os.environ.get("PGHA_PORT", DEFAULT_PORT))
        self.net_prefix = net_prefix or os.environ.get("PGHA_NET_PREFIX", DEFAULT_NET_PREFIX)
        if not _PREFIX_RE.match(self.net_prefix):
            raise ValueError(f"network prefix {self.net_prefix!r}: must be a loopback prefix like '127.0.0.'")
        if nodes < 1 or first_octet < 1 or first_octet + nodes - 1 >= PROXY_OCTET_BASE + 1:
            raise ValueError(f"{nodes} nodes from .{first_octet}: node addresses would overlap the proxy addresses")
        self.first_octet = first_octet
        self.data_root = Path(data_root or os.environ.get("PGHA_DATA_ROOT", DEFAULT_DATA_ROOT))
        self.cluster_dir = self.data_root / name
        self.state_file = self.cluster_dir / "cluster.json"
        self.passfile = self.cluster_dir / "pgpass"
        self.os_user = OsUser.lookup(os_user)
        self.bindir = Path(bindir) if bindir else detect_bindir()
        self.password = password or _new_password()
        self.runner = CommandRunner(self.os_user, self.bindir, self.passfile, workdir=self.cluster_dir)
        self.nodes: list[Node] = [
            Node(self, node_id, f"{self.net_prefix}{first_octet + node_id - 1}") for node_id in range(1, nodes + 1)
        ]
        self.built_with: str | None = None
        self._proxies: dict[tuple[str, int], Proxy] = {}
        self._recorded_pids: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<Cluster {self.name} {len(self.nodes)} nodes port {self.port} in {self.cluster_dir}>"

    # -- finding nodes ---------------------------------------------------------------------

    def node(self, which: str | int) -> Node:
        """A node by name ("node2") or id (2)."""
        for node in self.nodes:
            if which in (node.name, node.node_id):
                return node
        raise KeyError(f"cluster {self.name} has no node {which!r}")

    def primaries(self) -> list[Node]:
        """Running nodes that are not in recovery (after a failover this may not be node1)."""
        found = []
        for node in self.nodes:
            if node.is_running() and not node.is_hung():
                try:
                    if not node.in_recovery():
                        found.append(node)
                except (HarnessError, psycopg.Error):
                    continue  # hung or on its way down: not a primary one can use
        return found

    @property
    def transcript(self) -> list[CommandResult]:
        """Every command the harness ran for this cluster, with its output (see CommandResult)."""
        return self.runner.transcript

    # -- preparing and persisting ----------------------------------------------------------

    def prepare(self) -> None:
        """Clean leftovers of an earlier run of this cluster, then create empty directories.

        Leftovers are found through the state file and the node directories on disk; their
        servers are stopped by data directory (or recorded PID), even if the process that
        started them was killed, and hung ones are resumed first.  No server is started.
        """
        self._clean_leftovers()
        if not self.data_root.exists():
            self.data_root.mkdir(parents=True)
            os.chmod(self.data_root, 0o755)  # whatever the umask: postgres must traverse it
        self._make_dir(self.cluster_dir)
        for node in self.nodes:
            for directory in (node.node_dir, node.datadir, node.socket_dir):
                self._make_dir(directory)
        hosts = [node.address for node in self.nodes] + [self.default_proxy_address(node) for node in self.nodes]
        self._write_file(
            self.passfile, pgconf.pgpass_text(hosts, self.port, REPMGR_USER, REPMGR_DATABASE, self.password)
        )
        self.save_state()

    def save_state(self) -> None:
        """Write cluster.json (0600): what a later process needs to find and destroy this cluster."""
        state = {
            "format": STATE_FORMAT,
            "name": self.name,
            "nodes": [
                {
                    "name": node.name,
                    "node_id": node.node_id,
                    "address": node.address,
                    "datadir": str(node.datadir),
                    "postmaster_pid": self._recorded_pids.get(node.name),
                }
                for node in self.nodes
            ],
            "port": self.port,
            "net_prefix": self.net_prefix,
            "first_octet": self.first_octet,
            "data_root": str(self.data_root),
            "os_user": self.os_user.name,
            "bindir": str(self.bindir),
            "passfile": str(self.passfile),
            "password": self.password,
            "built_with": self.built_with,
        }
        temporary = self.state_file.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle, indent=2)
        os.replace(temporary, self.state_file)

    @classmethod
    def load(cls, name: str, data_root: str | Path | None = None) -> "Cluster":
        """The cluster a (possibly earlier) process prepared, from its state file."""
        root = Path(data_root or os.environ.get("PGHA_DATA_ROOT", DEFAULT_DATA_ROOT))
        state = _read_state(root / name / "cluster.json")
        if state is None:
            raise StateNotFound(f"no cluster {name!r} under {root} (never prepared, or destroyed)")
        cluster = cls(
            name,
            nodes=len(state["nodes"]),
            port=state["port"],
            net_prefix=state["net_prefix"],
            first_octet=state["first_octet"],
            data_root=root,
            os_user=state["os_user"],
            bindir=state["bindir"],
            password=state["password"],
        )
        cluster.built_with = state.get("built_with")
        for entry in state["nodes"]:
            if entry.get("postmaster_pid"):
                cluster._recorded_pids[entry["name"]] = int(entry["postmaster_pid"])
        return cluster

    def record_postmaster_pid(self, node: Node) -> None:
        """Remember a node's postmaster PID in the state file (used by a later cleanup)."""
        pid = node.postmaster_pid()
        if pid is not None and self.state_file.parent.is_dir():
            self._recorded_pids[node.name] = pid
            self.save_state()

    def write_inventory(self, path: str | Path) -> Path:
        """Write the Ansible inventory (YAML, 0600: it holds the password) for these hosts."""
        path = Path(path)
        hosts = {
            node.name: {
                "pgha_node_id": node.node_id,
                "pgha_listen_address": node.address,
                "pgha_data_directory": str(node.datadir),
                "pgha_socket_directory": str(node.socket_dir),
                "pgha_log_file": str(node.logfile),
                "pgha_initial_role": "primary" if node.node_id == 1 else "standby",
            }
            for node in self.nodes
        }
        inventory = {
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    "ansible_become_method": "su",
                    "pgha_local_test_host": True,
                    "pgha_cluster_name": self.name,
                    "pgha_os_user": self.os_user.name,
                    "pgha_pg_bindir": str(self.bindir),
                    "pgha_port": self.port,
                    "pgha_repmgr_user": REPMGR_USER,
                    "pgha_repmgr_database": REPMGR_DATABASE,
                    "pgha_repmgr_password": self.password,
                    "pgha_passfile": str(self.passfile),
                    # pg_rewind copies the source's files: keep each node's own settings file too
                    "pgha_rewind_preserve_files": ["postgresql.conf", "pg_hba.conf", "pg_ident.conf", "pgha.conf",
                                                   pgconf.NODE_CONF],
                },
                "children": {"pgha_nodes": {"hosts": hosts}},
            }
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"# Ansible inventory of test cluster {self.name!r}, written by the pgha test harness.\n")
            yaml.safe_dump(inventory, handle, sort_keys=False, default_flow_style=False)
        os.chmod(path, 0o600)
        return path

    # -- building --------------------------------------------------------------------------

    def build(
        self,
        slots: bool = True,
        settings: dict[str, str] | None = None,
        upstreams: dict[int, int] | None = None,
        witnesses: tuple[int, ...] = (),
    ) -> None:
        """node1 a primary, every other node a standby streaming from it (no repmgr metadata).

        Each standby is a ``pg_basebackup -X stream`` of its upstream (node1, or ``upstreams[id]``
        for a cascaded standby) with its own primary_conninfo (application_name = node name)
        and, with ``slots``, the slot repmgr_slot_<id> on that upstream.  ``settings`` are
        postgresql.conf settings for every node (the standbys copy node1's file).  Nodes listed
        in ``witnesses`` are separate servers (initdb), for a repmgr witness.  Returns once
        every standby streams.
        """
        self._ready_for_build()
        upstreams = upstreams or {}
        primary = self.nodes[0]
        self._init_primary(primary, dict(settings or {}))
        standbys = [n for n in self.nodes[1:] if n.node_id not in witnesses]
        for standby in sorted(standbys, key=lambda n: (n.node_id in upstreams, n.node_id)):
            upstream = self.node(upstreams.get(standby.node_id, primary.node_id))
            self.clone_standby(standby, upstream=upstream, slot=slots)
            self.wait_streaming(standby, upstream)
        for node_id in witnesses:
            self._init_primary(self.node(node_id), {})  # a separate server: none of the cluster's settings
        self.built_with = "pg_basebackup"
        self.save_state()

    def writable_nodes(self, table: str = "ledger") -> list[str]:
        """Names of the nodes that accept a write now: an INSERT into ``table`` (database postgres) commits.

        A standby refuses it (read-only), a witness has no such table, a stopped or hung node
        does not answer within 2 s.  The probe rows have id -1.
        """
        return [node.name for node in self.nodes if node.accepts_write(table)]

    def clone_standby(self, node: Node, upstream: Node | None = None, slot: bool = True) -> None:
        """Make ``node`` a streaming standby of ``upstream`` (default node1) and start it.

        The data directory must be empty.  This is what a DBA does by hand; it does not wait for
        streaming (use ``wait_streaming``).
        """
        upstream = upstream or self.nodes[0]
        if any(node.datadir.iterdir()):
            raise HarnessError(f"{node.name}: data directory {node.datadir} is not empty")
        slot_name = f"repmgr_slot_{node.node_id}"
        args = [
            "-h", upstream.address, "-p", str(upstream.port), "-U", REPMGR_USER,
            "-D", str(node.datadir), "-X", "stream", "--checkpoint=fast", "--no-sync",
        ]
        if slot:
            exists = upstream.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot_name,))
            args += ["-S", slot_name] if exists else ["-C", "-S", slot_name]
        self.runner.pg("pg_basebackup", *args, timeout=300)
        self._configure_node(node)
        settings = {
            "primary_conninfo": (
                f"host={upstream.address} port={upstream.port} user={REPMGR_USER} "
                f"application_name={node.name} connect_timeout=2 passfile={self.passfile}"
            )
        }
        if slot:
            settings["primary_slot_name"] = slot_name
        pgconf.set_auto_conf(node.datadir, settings)
        self._write_file(node.datadir / "standby.signal", "")
        node.start()

    def build_with_repmgr(
        self,
        failover: str = "manual",
        repmgr_settings: dict[str, str | int | bool] | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        """The same servers, built the way a DBA builds them with the real repmgr 5.3 CLI.

        node1 runs with shared_preload_libraries='repmgr' and is registered with
        ``repmgr primary register``; every other node is made with ``repmgr standby clone`` from
        node1, started, and registered with ``repmgr standby register``.  ``repmgr_settings``
        override or add repmgr.conf items (e.g. for repmgrd benchmarks); ``settings`` are
        postgresql.conf settings for every node (the clones copy node1's file).
        """
        self._ready_for_build()
        for node in self.nodes:
            self.write_repmgr_conf(node, failover=failover, extra=repmgr_settings)
        primary = self.nodes[0]
        self._init_primary(primary, dict(settings or {}, shared_preload_libraries="'repmgr'"))
        self._repmgr_checked(primary, "primary", "register")
        for standby in self.nodes[1:]:
            self._repmgr_checked(
                standby, "-h", primary.address, "-p", str(primary.port), "-U", REPMGR_USER, "-d", REPMGR_DATABASE,
                "standby", "clone", "--fast-checkpoint",
            )
            # The clone copied node1's configuration files: make the copy this node's server.
            self._configure_node(standby, write_common=False)
            standby.start()
            self._repmgr_checked(standby, "standby", "register", f"--upstream-node-id={primary.node_id}")
        for standby in self.nodes[1:]:
            self.wait_streaming(standby, primary)
        self.built_with = "repmgr"
        self.save_state()

    def write_repmgr_conf(
        self, node: Node, failover: str = "manual", extra: dict[str, str | int | bool] | None = None
    ) -> Path:
        """Write ``node.repmgr_conf`` as a DBA would for this node; returns its path."""
        pg_ctl = self.bindir / "pg_ctl"
        settings: dict[str, str | int | bool] = {
            "node_id": node.node_id,
            "node_name": node.name,
            "conninfo": node.conninfo,
            "data_directory": str(node.datadir),
            "replication_user": REPMGR_USER,
            "use_replication_slots": True,
            "pg_bindir": str(self.bindir),
            "passfile": str(self.passfile),
            "log_level": "INFO",
            "log_file": str(node.node_dir / "repmgr.log"),
            "repmgrd_pid_file": str(node.node_dir / "repmgrd.pid"),
            # Explicit service commands: the server log must keep going to node.logfile.
            "service_start_command": f"{pg_ctl} start -D {node.datadir} -l {node.logfile} -w -t 60",
            "service_stop_command": f"{pg_ctl} stop -D {node.datadir} -m fast -w -t 60",
            "service_restart_command": f"{pg_ctl} restart -D {node.datadir} -l {node.logfile} -m fast -w -t 60",
            "service_reload_command": f"{pg_ctl} reload -D {node.datadir}",
            "failover": failover,
            "promote_command": f"{self.bindir / 'repmgr'} standby promote -f {node.repmgr_conf} --log-to-file",
            "follow_command": (
                f"{self.bindir / 'repmgr'} standby follow -f {node.repmgr_conf} --log-to-file --upstream-node-id=%n"
            ),
            "reconnect_attempts": 5,
            "reconnect_interval": 1,
            "monitor_interval_secs": 2,
        }
        settings.update(extra or {})
        self._write_file(node.repmgr_conf, pgconf.repmgr_conf_text(settings))
        return node.repmgr_conf

    def repmgr(self, node: Node, *args: str, timeout: float = 120.0) -> tuple[int, str, str]:
        """Run the real ``repmgr -f <node's repmgr.conf> ARGS`` as postgres: (rc, stdout, stderr)."""
        result = self.runner.pg("repmgr", "-f", str(node.repmgr_conf), *args, check=False, timeout=timeout)
        return result.returncode, result.stdout, result.stderr

    def start_repmgrd(self, node: Node, timeout: float = 30.0) -> int:
        """Start the real repmgrd for ``node`` (build_with_repmgr clusters); returns its PID.

        It logs to <node dir>/repmgr.log and writes <node dir>/repmgrd.pid, by which
        ``stop_repmgrd`` and ``destroy`` find it.
        """
        pidfile = node.node_dir / "repmgrd.pid"
        self.runner.pg("repmgrd", "-f", str(node.repmgr_conf), "--daemonize=true", detach=True, timeout=timeout)
        return self.wait_until(
            lambda: _pid_from_file(pidfile) if pid_alive(_pid_from_file(pidfile)) else None,
            timeout=timeout,
            what=f"repmgrd of {node.name} has written its PID file",
        )

    def stop_repmgrd(self, node: Node, timeout: float = 30.0) -> None:
        """Stop ``node``'s repmgrd (SIGTERM to the PID in its PID file) and wait until it is gone."""
        pid = _pid_from_file(node.node_dir / "repmgrd.pid")
        if not pid_alive(pid):
            return
        assert pid is not None
        signal_pids([pid], signal.SIGTERM)
        self.wait_until(lambda: not pid_alive(pid), timeout=timeout, what=f"repmgrd of {node.name} has exited")

    # -- waiting ---------------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], T], timeout: float = 30.0, what: str = "the condition holds") -> T:
        """Poll ``predicate`` every 0.05 s until truthy; raise WaitTimeout naming ``what`` after ``timeout`` s."""
        return _wait_until(predicate, timeout=timeout, what=what)

    def wait_streaming(self, standby: Node, upstream: Node, timeout: float = 30.0) -> None:
        """Wait until ``upstream``'s pg_stat_replication shows ``standby`` streaming."""
        self.wait_until(
            lambda: upstream.sql(
                "SELECT 1 FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'",
                (standby.name,),
            ),
            timeout=timeout,
            what=f"{standby.name} streams from {upstream.name}",
        )

    # -- network partitions ----------------------------------------------------------------

    def default_proxy_address(self, node: Node) -> str:
        """Where ``proxy(node)`` listens by default: <prefix>(100 + node_id), e.g. 127.0.0.101."""
        return f"{self.net_prefix}{PROXY_OCTET_BASE + node.node_id}"

    def proxy(self, node: Node, address: str | None = None, port: int | None = None) -> Proxy:
        """A TCP proxy to ``node`` (default 127.0.0.(100+id):<cluster port>); cut() it to partition.

        Asking again for the same address and port returns the same open proxy.  The passfile
        already has lines for the default proxy addresses.
        """
        address = address or self.default_proxy_address(node)
        port = port or self.port
        existing = self._proxies.get((address, port))
        if existing is not None and not existing.is_closed:
            return existing
        proxy = Proxy(
            address, port, node.address, node.port, pgconf.conninfo(address, port), name=f"proxy-{node.name}"
        )
        self._proxies[(address, port)] = proxy
        return proxy

    # -- tearing down ----------------------------------------------------------------------

    def destroy(self) -> None:
        """Stop every server of this cluster and remove all its files; close the proxies.

        Servers are stopped by data directory (hung ones resumed first, then ``pg_ctl -m
        immediate stop``, then SIGKILL of what is still running from that directory).
        """
        self._clean_leftovers()

    def __enter__(self) -> "Cluster":
        self.prepare()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is not None:
            for node in self.nodes:
                print(f"--- {node.name} {node.logfile} (tail) ---\n{node.log_tail()}", file=sys.stderr)
        if os.environ.get("PGHA_KEEP_CLUSTER") == "1":
            for proxy in self._proxies.values():
                proxy.close()
            print(f"PGHA_KEEP_CLUSTER=1: cluster {self.name} kept in {self.cluster_dir}", file=sys.stderr)
            return
        self.destroy()

    # -- internals -------------------------------------------------------------------------

    def _ready_for_build(self) -> None:
        if not self.state_file.exists():
            self.prepare()
        for node in self.nodes:
            if not node.datadir.is_dir() or any(node.datadir.iterdir()):
                raise HarnessError(f"{node.name}: {node.datadir} is not an empty directory: call prepare() first")

    def _init_primary(self, node: Node, extra_settings: dict[str, str]) -> None:
        """initdb, configure and start ``node``; create the repmgr role and database."""
        self.runner.pg(
            "initdb", "-D", str(node.datadir), "-U", self.os_user.name, "-E", "UTF8", "--locale=C",
            "--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions",
            timeout=300,
        )
        self._configure_node(node, extra_settings=extra_settings)
        node.start()
        # Passed on stdin: the password must not appear on any command line.
        node.psql(
            f"CREATE ROLE {REPMGR_USER} LOGIN SUPERUSER REPLICATION PASSWORD {pgconf.quote(self.password)};\n"
            f"CREATE DATABASE {REPMGR_DATABASE} OWNER {REPMGR_USER};\n"
        )

    def _configure_node(self, node: Node, extra_settings: dict[str, str] | None = None, write_common: bool = True) -> None:
        """Write the node's configuration; after a clone only the per-node file needs rewriting."""
        if write_common:
            conf = node.datadir / "postgresql.conf"
            with conf.open("a") as handle:
                handle.write(pgconf.common_settings_text(extra_settings))
            self._write_file(node.datadir / "pg_hba.conf", pgconf.HBA_TEXT)
        self._write_file(
            node.datadir / pgconf.NODE_CONF,
            pgconf.node_settings_text(node.address, node.port, node.socket_dir, node.name),
        )

    def _repmgr_checked(self, node: Node, *args: str) -> str:
        result = self.runner.pg(
            "repmgr", "-f", str(node.repmgr_conf), *args,
            timeout=300,
            hint=lambda: f"--- {node.logfile} (tail) ---\n{node.log_tail(15)}",
        )
        return result.stdout

    def _make_dir(self, path: Path) -> None:
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
        self.os_user.chown(path)

    def _write_file(self, path: Path, text: str, mode: int = 0o600) -> None:
        """Write a file the servers or repmgr read: owned by the OS user, private."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(path, mode)
        self.os_user.chown(path)

    def _leftover_datadirs(self) -> Iterator[tuple[Path, int | None]]:
        """Every data directory this cluster may have used, with its recorded postmaster PID."""
        seen: dict[Path, int | None] = {}
        state = _read_state(self.state_file)
        if state is not None:
            for entry in state.get("nodes", []):
                seen[Path(entry["datadir"])] = entry.get("postmaster_pid")
        for node in self.nodes:
            seen.setdefault(node.datadir, self._recorded_pids.get(node.name))
        if self.cluster_dir.is_dir():
            for datadir in self.cluster_dir.glob("*/data"):
                seen.setdefault(datadir, None)
        yield from seen.items()

    def _clean_leftovers(self) -> None:
        for proxy in self._proxies.values():
            proxy.close()
        self._proxies.clear()
        for datadir, recorded_pid in self._leftover_datadirs():
            self._stop_by_datadir(datadir, recorded_pid)
        self._stop_repmgrd_by_pidfiles()
        self._recorded_pids.clear()
        if self.cluster_dir.exists():
            shutil.rmtree(self.cluster_dir)

    def _stop_by_datadir(self, datadir: Path, recorded_pid: int | None) -> None:
        """Stop whatever server runs from ``datadir``, however it was left (running, hung, orphaned)."""
        binary = self.bindir / "postgres"
        wanted = os.path.realpath(datadir)

        def remaining() -> list[int]:
            pids = server_processes(datadir, binary)
            if recorded_pid and pid_alive(recorded_pid) and process_cwd(recorded_pid) == wanted:
                pids = sorted(set(pids) | {recorded_pid})
            return pids

        pids = remaining()
        if not pids:
            return
        signal_pids(pids, signal.SIGCONT)  # a hung server must run to act on the stop
        if (datadir / "PG_VERSION").exists() and (datadir / "postmaster.pid").exists():
            self.runner.pg(
                "pg_ctl", "stop", "-D", str(datadir), "-m", "immediate", "-w", "-t", "10", check=False, timeout=30
            )
        try:
            _wait_until(lambda: not remaining(), timeout=10, what=f"the server in {datadir} has stopped")
        except WaitTimeout:
            signal_pids(remaining(), signal.SIGKILL)
            _wait_until(lambda: not remaining(), timeout=10, what=f"the server in {datadir} is killed")

    def _stop_repmgrd_by_pidfiles(self) -> None:
        """Stop repmgrd daemons started for this cluster, by their PID files (checked to be repmgrd of this cluster)."""
        if not self.cluster_dir.is_dir():
            return
        for pidfile in self.cluster_dir.glob("*/repmgrd.pid"):
            pid = _pid_from_file(pidfile)
            if pid is None:
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(self.cluster_dir) not in cmdline:
                continue  # PID reused by something else
            signal_pids([pid], signal.SIGCONT)
            signal_pids([pid], signal.SIGTERM)
            try:
                _wait_until(lambda: not pid_alive(pid), timeout=10, what=f"repmgrd {pid} has exited")
            except WaitTimeout:
                signal_pids([pid], signal.SIGKILL)


def cluster_names(data_root: str | Path | None = None) -> list[str]:
    """Names of the clusters under the data root: folders with a state file or node data directories."""
    root = Path(data_root or os.environ.get("PGHA_DATA_ROOT", DEFAULT_DATA_ROOT))
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir()
        and _NAME_RE.match(entry.name)
        and ((entry / "cluster.json").exists() or any(entry.glob("node*/data")))
    )


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        with path.open() as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _pid_from_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _new_password() -> str:
    """A fresh random password per cluster: letters and digits only (safe in SQL, .pgpass, YAML)."""
    alphabet = string.ascii_letters + string.digits
    return "pw" + "".join(map(secrets.choice, [alphabet] * 24))
