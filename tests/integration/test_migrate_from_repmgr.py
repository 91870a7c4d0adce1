"""Migration from repmgr, as docs/migrating-from-repmgr.md tells a DBA to do it, on real servers.

A cluster built by the real repmgr 5.3 CLI (primary register, standby clone, standby register) runs
with repmgrd on every node (failover=automatic). Then, without restarting PostgreSQL:

1. repmgrd is stopped on every node;
2. `ansible NODE -m pgha.repmgr.repmgr_conf_info -a path=<the node's repmgr.conf>` (the real ansible
   CLI, as the postgres user) reads each node's file; the test writes the inventory from the results
   as a user would, and its values are the harness's own inventory values;
3. the real ansible-rulebook runs pgha.repmgr.failover with the monitor settings that repmgr_conf_info
   returned; the metadata repmgr wrote is left as it was;
4. the primary crashes: it is failed over (exactly one node accepts writes, no acknowledged row is
   lost, repmgrd's events are written, the monitor still runs), and the real `repmgr cluster show`
   agrees, next to repmgr's own history of the cluster.

Cluster: 127.0.0.97-99, port 55701.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from ansible_cli import run_module
from harness import Cluster, Writer, pid_alive
from rulebook import Rulebook

ROOT = Path(__file__).resolve().parents[2]
PORT = 55701
FIRST_OCTET = 97
SYNC = {"synchronous_standby_names": "'ANY 1 (*)'"}
# repmgrd's settings in every node's repmgr.conf: the retry window the rulebook must take over
REPMGRD = dict(reconnect_attempts=3, reconnect_interval=1, monitor_interval_secs=1, connection_check_type="ping")


@pytest.fixture()
def migrate(tmp_path, request):
    cluster = Cluster("migrate", 3, port=PORT, first_octet=FIRST_OCTET)
    cluster.prepare()
    books = []
    try:
        yield cluster, books
    finally:
        report = getattr(request.node, "report_call", None)
        if report is None or report.failed:
            for book in books:
                print(f"--- {book.log} (tail) ---\n{book.output()[-8000:]}", file=sys.stderr)
            for node in cluster.nodes:
                print(f"--- {node.name} log (tail) ---\n{node.log_tail(20)}", file=sys.stderr)
        for book in books:
            book.stop()
            book.handle.close()
        cluster.destroy()


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return path


def in_recovery(node):
    try:
        return node.in_recovery()
    except psycopg.Error:
        return None


def metadata(node):
    return node.sql("SELECT node_id, type, upstream_node_id, active, node_name, location, priority, conninfo, "
                    "repluser, slot_name, config_file FROM repmgr.nodes ORDER BY node_id")


def events(node):
    return [tuple(row) for row in node.sql(
        "SELECT node_id, event, details, successful FROM repmgr.events ORDER BY event_timestamp, event")]


def test_a_cluster_repmgrd_ran_is_taken_over_without_a_restart_and_failed_over_by_the_rulebook(migrate, tmp_path):
    cluster, books = migrate
    node1, node2, node3 = cluster.nodes

    # -- the cluster as repmgr and repmgrd run it ------------------------------------------------------
    cluster.build_with_repmgr(failover="automatic", repmgr_settings=REPMGRD, settings=SYNC)
    daemons = [cluster.start_repmgrd(node) for node in cluster.nodes]
    cluster.wait_until(lambda: len(node1.sql("SELECT 1 FROM repmgr.events WHERE event = 'repmgrd_start'")) >= 3,
                       timeout=60, what="repmgrd monitors every node")
    postmasters = {node.name: node.postmaster_pid() for node in cluster.nodes}

    # -- 1. stop repmgrd everywhere: two failover managers at once are unsafe ------------------------------
    for node in cluster.nodes:
        cluster.stop_repmgrd(node)
    assert not any(pid_alive(pid) for pid in daemons)
    metadata_before, events_before = metadata(node1), events(node1)

    # -- 2. read every node's repmgr.conf through the real ansible CLI ---------------------------------------
    harness_inventory = yaml.safe_load(cluster.write_inventory(tmp_path / "harness-inventory.yml").read_text())
    harness_vars = harness_inventory["all"]["vars"]
    harness_hosts = harness_inventory["all"]["children"]["pgha_nodes"]["hosts"]
    # what a user knows before reading anything: the hosts and how Ansible reaches them
    reach = {key: harness_vars[key] for key in ("ansible_connection", "ansible_python_interpreter",
                                                "ansible_become_method")}
    hosts = {node.name: {} for node in cluster.nodes}
    discovery = write_yaml(tmp_path / "discovery.yml", {"all": {"vars": reach, "children": {"pgha_nodes": {
        "hosts": hosts}}}})
    read = {}
    for node in cluster.nodes:
        run = run_module(discovery, node.name, "pgha.repmgr.repmgr_conf_info", dict(path=str(node.repmgr_conf)),
                         become=True)
        assert run.rc == 0 and not run.failed and run.changed is False, run.output
        assert cluster.password not in run.output
        read[node.name] = run.result
    check = run_module(discovery, "node2", "pgha.repmgr.repmgr_conf_info", dict(path=str(node2.repmgr_conf)),
                       become=True, check=True)
    assert check.rc == 0 and check.changed is False and check.result["inventory"] == read["node2"]["inventory"]

    for node in cluster.nodes:
        result = read[node.name]
        assert result["config_file"] == str(node.repmgr_conf) and result["config_warnings"] == []
        assert result["failover"] == "automatic" and result["notes"] == []
        assert result["monitor_conninfo"] == node.conninfo
        assert {entry["key"] for entry in result["unmapped"]} >= {"promote_command", "follow_command",
                                                                  "service_start_command", "repmgrd_pid_file"}
        # everything the harness's inventory says about the node, the node's repmgr.conf says too
        expected = dict(harness_hosts[node.name], **harness_vars)
        found = result["inventory"]
        shared = set(found) & set(expected)
        assert shared >= {"pgha_node_id", "pgha_listen_address", "pgha_data_directory", "pgha_port",
                          "pgha_pg_bindir", "pgha_repmgr_user", "pgha_repmgr_database", "pgha_passfile"}
        assert {key: found[key] for key in shared} == {key: expected[key] for key in shared}
        assert (found["pgha_node_name"], found["pgha_use_slots"], found["pgha_repmgr_conf_file"]) == (
            node.name, True, str(node.repmgr_conf))
    monitors = [read[node.name]["monitor"] for node in cluster.nodes]
    assert monitors[0] == monitors[1] == monitors[2]
    assert monitors[0] == dict(pgha_monitor_interval=1, pgha_reconnect_attempts=3, pgha_reconnect_interval=1,
                               pgha_connection_check_type="ping", pgha_monitoring_history=False,
                               pgha_connect_timeout=2)

    # the inventory, as a user writes it: each node's variables from its repmgr.conf; the password from
    # the vault; the layout of these test hosts (no repmgr.conf knows it) from the harness
    test_host_layout = {name: {key: harness_hosts[name][key] for key in ("pgha_socket_directory", "pgha_log_file")}
                        for name in harness_hosts}
    inventory = write_yaml(tmp_path / "inventory.yml", {"all": {
        "vars": dict(reach, pgha_local_test_host=True, pgha_os_user=harness_vars["pgha_os_user"],
                     pgha_cluster_name=cluster.name, pgha_repmgr_password=cluster.password),
        "children": {"pgha_nodes": {"hosts": {
            name: dict(result["inventory"], **test_host_layout[name]) for name, result in read.items()}}},
    }})

    # -- 3. the rulebook takes over with repmgrd's monitor settings ------------------------------------------
    writer = Writer(cluster).start()
    variables = dict(monitors[0], pgha_cluster_name=cluster.name, pgha_repmgr_password=cluster.password,
                     pgha_monitor_conninfo=[read[node.name]["monitor_conninfo"] for node in cluster.nodes])
    book = Rulebook(inventory, variables, tmp_path, name="takeover", env=dict(PYTHONPATH=str(ROOT / "tests")))
    book.start()
    books.append(book)
    book.wait_for("'event': 'repmgrd_start'", 90)
    # taken over without a restart, and repmgr's metadata and history are as repmgr left them
    assert {node.name: node.postmaster_pid() for node in cluster.nodes} == postmasters
    assert metadata(node1) == metadata_before
    assert events(node1)[:len(events_before)] == events_before

    # -- 4. the primary crashes: the rulebook fails it over --------------------------------------------------
    node1.crash()
    cluster.wait_until(lambda: any(row[1] == "repmgrd_failover_follow" for row in events(node2))
                       if in_recovery(node2) is False else False,
                       timeout=90, what="node2 is promoted and node3 follows it")
    cluster.wait_streaming(node3, node2, timeout=60)
    cluster.wait_until(lambda: cluster.writable_nodes() == ["node2"], timeout=60,
                       what="node2 is the one node that accepts writes")
    writer.stop()
    assert writer.lost_on(node2) == [], "acknowledged rows lost"
    assert book.alive(), "the monitor died:\n" + book.output()[-5000:]
    assert cluster.password not in book.output()

    logged = events(node2)
    assert (2, "repmgrd_failover_promote",
            'node "node2" (ID: 2) promoted to primary; old primary "node1" (ID: 1) marked as failed', True) in logged
    assert (3, "repmgrd_failover_follow", 'node "node3" (ID: 3) now following new upstream node "node2" (ID: 2)',
            True) in logged
    assert logged[:len(events_before)] == events_before  # repmgr's history is kept
    assert node2.sql("SELECT node_id, type, upstream_node_id, active FROM repmgr.nodes ORDER BY node_id") == [
        (1, "primary", None, False), (2, "primary", None, True), (3, "standby", 2, True)]
    assert node2.sql("SELECT term FROM repmgr.voting_term") == [(2,)]  # repmgr seeded 1; the election raised it

    # -- the real repmgr agrees ------------------------------------------------------------------------------
    rc, out, err = cluster.repmgr(node3, "cluster", "show")
    assert cluster.password not in out + err
    rows = {cells[1].strip(): cells for cells in (line.split("|") for line in out.splitlines()[2:] if "|" in line)}
    assert rc == 25, out + err  # a failed node is a warning
    assert (rows["node1"][3].strip(), rows["node2"][3].strip(), rows["node3"][3].strip()) == (
        "- failed", "* running", "running")
    assert rows["node3"][4].strip() == "node2"
    rc, out, err = cluster.repmgr(node3, "cluster", "event", "--event=repmgrd_failover_promote")
    assert rc == 0 and 'node "node2" (ID: 2) promoted to primary' in out, out + err
