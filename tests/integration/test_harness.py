"""The test harness itself, on real PostgreSQL servers: what every other integration test relies on.

Each test reads like a runbook: build, break (crash, hang, cut), wait for a condition with a
deadline, then check what a DBA would check (pg_stat_replication, connections, processes, files).

Ports of their own (56432, 56442, 56452), so that these clusters can run next to the clusters of
other test files and of a developer's ``make demo`` (55432).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from harness import Cluster, WaitTimeout, cluster_fixture, pid_alive

TESTS_DIR = Path(__file__).resolve().parent.parent

cluster = cluster_fixture("harness-selftest", nodes=3, port=56432)


def _connect_seconds(conninfo: str, password: str) -> tuple[bool, float]:
    """Try one new connection with connect_timeout=1 (2 s for libpq); return (connected, seconds)."""
    started = time.monotonic()
    try:
        with psycopg.connect(conninfo, password=password, connect_timeout=1):
            return True, time.monotonic() - started
    except psycopg.OperationalError:
        return False, time.monotonic() - started


def _harness_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m harness ARGS`` in a separate process, as the Makefile does."""
    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR))
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _accepts_tcp(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def test_build_gives_one_primary_and_standbys_streaming_through_slots(cluster: Cluster) -> None:
    node1, node2, node3 = cluster.nodes

    assert [node.in_recovery() for node in cluster.nodes] == [False, True, True]
    assert node1.sql("SELECT application_name, state FROM pg_stat_replication ORDER BY 1") == [
        ("node2", "streaming"),
        ("node3", "streaming"),
    ]
    assert node1.sql("SELECT slot_name, slot_type, active FROM pg_replication_slots ORDER BY 1") == [
        ("repmgr_slot_2", "physical", True),
        ("repmgr_slot_3", "physical", True),
    ]
    # Each server listens on its own address only, all on the cluster's port.
    for node in cluster.nodes:
        assert node.sql("SELECT host(inet_server_addr()), current_setting('listen_addresses')") == [
            (node.address, node.address)
        ]
        assert node.conninfo == f"host={node.address} port=56432 user=repmgr dbname=repmgr connect_timeout=2"
    # Data written on the primary reaches both standbys.
    node1.sql("CREATE TABLE harness_probe (id int PRIMARY KEY, note text)")
    node1.sql("INSERT INTO harness_probe VALUES (1, 'written on node1')")
    for standby in (node2, node3):
        cluster.wait_until(
            lambda standby=standby: standby.sql("SELECT to_regclass('harness_probe') IS NOT NULL")[0][0]
            and standby.sql("SELECT note FROM harness_probe WHERE id = 1") == [("written on node1",)],
            timeout=10,
            what=f"{standby.name} has replayed the probe row",
        )
    # No repmgr metadata: creating it is the job of the modules under test.
    assert node1.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'repmgr'") == [(0,)]


def test_password_is_random_and_never_shown(cluster: Cluster) -> None:
    password = cluster.password
    assert len(password) >= 20 and password != Cluster("harness-other", 1, port=56999).password

    passfile = cluster.passfile.stat()
    assert stat.S_IMODE(passfile.st_mode) == 0o600 and passfile.st_uid == cluster.os_user.uid
    assert f"{cluster.nodes[0].address}:56432:replication:repmgr:{password}" in cluster.passfile.read_text()

    for result in cluster.transcript:
        assert password not in " ".join(result.argv)
        assert password not in result.stdout and password not in result.stderr
    for node in cluster.nodes:
        assert password not in node.conninfo
        assert password not in node.logfile.read_text()
        assert password not in (node.datadir / "postgresql.auto.conf").read_text()


def test_crash_stops_the_server_and_its_postmaster_is_gone(cluster: Cluster) -> None:
    node1, node3 = cluster.node("node1"), cluster.node("node3")
    postmaster = node3.postmaster_pid()
    assert pid_alive(postmaster)

    node3.crash()

    assert not node3.is_running()
    cluster.wait_until(lambda: not pid_alive(postmaster), timeout=10, what="node3's postmaster has exited")
    with pytest.raises(psycopg.OperationalError):
        node3.sql("SELECT 1")

    node3.start()
    cluster.wait_streaming(node3, node1)
    assert node3.in_recovery()


def test_hang_makes_new_connections_time_out_until_resume(cluster: Cluster) -> None:
    node2 = cluster.node("node2")
    held = node2.connect()  # opened before the hang: its backend keeps running

    node2.hang()
    try:
        assert node2.is_hung() and node2.is_running()
        connected, seconds = _connect_seconds(node2.conninfo, cluster.password)
        assert not connected and seconds < 5
        assert held.execute("SELECT 1").fetchall() == [(1,)]
    finally:
        node2.resume()

    assert not node2.is_hung()
    connected = _connect_seconds(node2.conninfo, cluster.password)[0]
    assert connected
    held.close()


def test_proxy_cut_partitions_one_path_while_the_node_stays_reachable(cluster: Cluster) -> None:
    node1 = cluster.node("node1")
    proxy = cluster.proxy(node1)
    assert proxy.address == "127.0.0.101" and proxy.port == 56432
    assert proxy.conninfo == "host=127.0.0.101 port=56432 user=repmgr dbname=repmgr connect_timeout=2"
    through_proxy = psycopg.connect(proxy.conninfo, password=cluster.password, autocommit=True)
    assert through_proxy.execute("SELECT host(inet_server_addr())").fetchall() == [("127.0.0.11",)]

    proxy.cut()

    connected, seconds = _connect_seconds(proxy.conninfo, cluster.password)
    assert not connected and seconds < 5
    assert node1.sql("SELECT 1") == [(1,)]  # the direct path still works
    cluster.wait_streaming(cluster.node("node2"), node1, timeout=5)  # and so does replication
    # The existing connection is not closed: its query just gets no answer while the cut lasts.
    answers: list[object] = []
    query = threading.Thread(
        target=lambda: answers.append(through_proxy.execute("SELECT 42").fetchall()), daemon=True
    )
    query.start()
    query.join(timeout=1.0)
    assert query.is_alive() and answers == []

    proxy.restore()

    query.join(timeout=10)
    assert answers == [[(42,)]]
    connected = _connect_seconds(proxy.conninfo, cluster.password)[0]
    assert connected
    through_proxy.close()
    proxy.close()


def test_wait_until_names_what_did_not_happen(cluster: Cluster) -> None:
    with pytest.raises(WaitTimeout, match="node9 streams from node1"):
        cluster.wait_until(lambda: False, timeout=0.2, what="node9 streams from node1")
    assert cluster.wait_until(lambda: 42, what="an answer") == 42


def test_inventory_names_every_host_with_the_role_variables(cluster: Cluster, tmp_path: Path) -> None:
    path = cluster.write_inventory(tmp_path / "inventory.yml")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the password
    inventory = yaml.safe_load(path.read_text())["all"]
    assert inventory["vars"] == {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "ansible_become_method": "su",
        "pgha_local_test_host": True,
        "pgha_cluster_name": "harness-selftest",
        "pgha_os_user": "postgres",
        "pgha_pg_bindir": str(cluster.bindir),
        "pgha_port": 56432,
        "pgha_repmgr_user": "repmgr",
        "pgha_repmgr_database": "repmgr",
        "pgha_repmgr_password": cluster.password,
        "pgha_passfile": str(cluster.passfile),
        # the harness's per-node settings file must survive pg_rewind, as the role's pgha.conf does
        "pgha_rewind_preserve_files": ["postgresql.conf", "pg_hba.conf", "pg_ident.conf", "pgha.conf",
                                       "pgha_node.conf"],
    }
    hosts = inventory["children"]["pgha_nodes"]["hosts"]
    assert list(hosts) == ["node1", "node2", "node3"]
    assert hosts["node2"] == {
        "pgha_node_id": 2,
        "pgha_listen_address": "127.0.0.12",
        "pgha_data_directory": str(cluster.node(2).datadir),
        "pgha_socket_directory": str(cluster.node(2).socket_dir),
        "pgha_log_file": str(cluster.node(2).logfile),
        "pgha_initial_role": "standby",
    }
    assert hosts["node1"]["pgha_initial_role"] == "primary"


def test_prepare_cleans_a_killed_run_of_the_same_cluster(cluster: Cluster) -> None:
    name = "harness-selftest-stray"
    # An earlier process built the cluster, hung node2 and went away without destroying anything.
    built = _harness_cli("build", "--name", name, "--nodes", "2", "--port", "56442")
    assert built.returncode == 0, built.stderr
    assert _harness_cli("hang", "--name", name, "node2").returncode == 0
    leftover = Cluster.load(name)
    old_pids = [node.postmaster_pid() for node in leftover.nodes]
    assert all(pid_alive(pid) for pid in old_pids)

    with Cluster(name, nodes=2, port=56442) as fresh:  # prepare() on entry
        assert not any(pid_alive(pid) for pid in old_pids)
        assert [list(node.datadir.iterdir()) for node in fresh.nodes] == [[], []]
        assert fresh.password != leftover.password

        fresh.build()
        # Two clusters side by side: same addresses, different ports.
        assert fresh.node(1).sql("SELECT current_setting('port')") == [("56442",)]
        assert cluster.node(1).sql("SELECT current_setting('port')") == [("56432",)]


def test_destroy_leaves_no_server_and_no_data() -> None:
    doomed = Cluster("harness-selftest-destroy", nodes=2, port=56442)
    doomed.prepare()
    doomed.build()
    doomed.node(2).hang()
    doomed.proxy(doomed.node(1))
    pids = [node.postmaster_pid() for node in doomed.nodes]

    doomed.destroy()

    assert not any(pid_alive(pid) for pid in pids)
    assert not any(node.is_running() for node in doomed.nodes)
    assert not doomed.cluster_dir.exists()
    for address in ("127.0.0.11", "127.0.0.12", "127.0.0.101"):
        assert not _accepts_tcp(address, 56442)
    status = _harness_cli("status", "--name", "harness-selftest-destroy")
    assert status.returncode == 1 and "never prepared, or destroyed" in status.stderr


def test_build_with_repmgr_gives_a_cluster_the_real_repmgr_shows() -> None:
    with Cluster("harness-selftest-repmgr", nodes=3, port=56452) as cluster:
        cluster.build_with_repmgr()
        node2 = cluster.node("node2")
        assert node2.repmgr_conf.is_file()

        rc, out, err = cluster.repmgr(node2, "cluster", "show")

        assert rc == 0, err
        rows = [[cell.strip() for cell in line.split("|")] for line in out.splitlines() if "| node" in line]
        assert [(row[1], row[2], row[3], row[4]) for row in rows] == [
            ("node1", "primary", "* running", ""),
            ("node2", "standby", "running", "node1"),
            ("node3", "standby", "running", "node1"),
        ]
        assert cluster.password not in out + err

        # repmgrd runs from the same repmgr.conf and is stopped with the cluster.
        daemon = cluster.start_repmgrd(cluster.node("node1"))
        rc, out, err = cluster.repmgr(cluster.node("node1"), "service", "status")
        assert rc == 0, err
        assert str(daemon) in out
    assert not pid_alive(daemon)
