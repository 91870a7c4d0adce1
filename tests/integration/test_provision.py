"""`ansible-playbook pgha.repmgr.provision -i inventory.yml` on real servers, checked as a DBA would.

The harness only makes empty directories and the inventory; the playbook builds everything:
initdb and start of node1, registration (the metadata), clone + start + registration of node2 and
node3. Then: a second run and a --check run change nothing, the real repmgr CLI reads what the
playbook built, and a rerun after a manual failover treats the new primary as the primary and
never starts the old one, nor follows it when someone started it by hand (split brain).

Clusters: 127.0.0.61-63, 127.0.0.64-66 and 127.0.0.73-75, ports 55601, 55602 and 55605 (own addresses and ports, so
other test files' clusters and `make demo` can run at the same time).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from psycopg import sql

from harness import Cluster, cluster_fixture

cluster = cluster_fixture("provision", 3, build=None, port=55601, first_octet=61)
failover_cluster = cluster_fixture("provision-failover", 3, build=None, port=55602, first_octet=64)

STANDBY_REGISTERED = "standby registration succeeded; upstream node ID is 1"


@dataclass
class Provisioned:
    cluster: Cluster
    console: object  # conftest.Console
    first_run: object  # ansible_cli.PlaybookRun
    check_on_empty_hosts: tuple = ()  # (run, files before, files after, servers running after)


def files_under(cluster):
    """Every file and directory under the cluster's node directories, with its size and mtime."""
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns)
            for node in cluster.nodes for path in sorted(node.node_dir.rglob("*"))}


def provision_from_scratch(cluster, console_for, tmp_path_factory, check_first=False) -> Provisioned:
    """Inventory from the harness, then the first ansible-playbook run; it must succeed on every host.

    check_first: a --check run on the empty hosts before it (what it did is kept for a test).
    """
    inventory = cluster.write_inventory(tmp_path_factory.mktemp(cluster.name) / "inventory.yml")
    console = console_for(cluster, inventory)
    check_on_empty_hosts = ()
    if check_first:
        before = files_under(cluster)
        check = console.provision(check=True, env={"ANSIBLE_VERBOSITY": "3"})
        check_on_empty_hosts = (check, before, files_under(cluster), [n.name for n in cluster.nodes if n.is_running()])
    run = console.provision()
    assert run.rc == 0 and run.failed() == 0, run.output
    return Provisioned(cluster, console, run, check_on_empty_hosts)


@pytest.fixture(scope="module")
def provisioned(cluster, console_for, tmp_path_factory) -> Provisioned:
    return provision_from_scratch(cluster, console_for, tmp_path_factory, check_first=True)


@pytest.fixture(scope="module")
def check_run(provisioned):
    """`--check --diff` at -vvv on the provisioned cluster: (run, state before, state after)."""
    before = what_a_run_could_change(provisioned.cluster)
    run = provisioned.console.provision(check=True, diff=True, env={"ANSIBLE_VERBOSITY": "3"})
    return run, before, what_a_run_could_change(provisioned.cluster)


@pytest.fixture(scope="module")
def failed_over(failover_cluster, console_for, tmp_path_factory) -> Provisioned:
    """A provisioned cluster whose primary a DBA moved to node2 by hand; node1 is left stopped."""
    provisioned = provision_from_scratch(failover_cluster, console_for, tmp_path_factory)
    promote_node2_by_hand(failover_cluster)
    return provisioned


# -- what a DBA looks at ---------------------------------------------------------------------

def replication(primary):
    """The primary's walsenders with the slot each one streams through."""
    return primary.sql(
        "SELECT r.application_name, r.state, s.slot_name, s.active FROM pg_stat_replication r "
        "LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid ORDER BY 1"
    )


def wal_receiver(standby):
    return standby.sql("SELECT status, sender_host, slot_name FROM pg_stat_wal_receiver")


def nodes_table(node):
    return node.sql(
        "SELECT node_id, type, upstream_node_id, active, node_name, location, priority, conninfo, repluser, "
        "slot_name, config_file FROM repmgr.nodes ORDER BY node_id"
    )


def events(node):
    return node.sql("SELECT node_id, event, successful, details, event_timestamp FROM repmgr.events "
                    "ORDER BY event_timestamp, node_id, event")


def what_a_run_could_change(cluster):
    """Metadata, events, slots, configuration files and postmaster PIDs: equal before and after = nothing done."""
    primary = cluster.nodes[0]
    files = {}
    for node in cluster.nodes:
        for path in (node.datadir / "pgha.conf", node.datadir / "postgresql.conf", node.datadir / "pg_hba.conf",
                     node.datadir / "postgresql.auto.conf", node.repmgr_conf):
            files[str(path)] = (path.stat().st_mtime_ns, path.read_text())
    files[str(cluster.passfile)] = (cluster.passfile.stat().st_mtime_ns, None)
    return dict(
        nodes=nodes_table(primary),
        events=events(primary),
        slots=primary.sql("SELECT slot_name FROM pg_replication_slots ORDER BY 1"),
        postmasters=[node.postmaster_pid() for node in cluster.nodes],
        files=files,
    )


def said(run, text):
    """Whether the playbook output says ``text`` (YAML folds long messages and doubles quotes)."""
    return " ".join(text.split()) in " ".join(run.output.replace("''", "'").split())


def promote_node2_by_hand(cluster):
    """A failover without repmgr: node1 stopped, node2 promoted, metadata updated as repmgr would, node3 follows."""
    node1, node2, node3 = cluster.nodes
    node1.stop(mode="fast")
    node2.sql("SELECT pg_promote()")
    cluster.wait_until(lambda: not node2.in_recovery(), what="node2 runs as a primary")
    # repmgr standby promote / follow write exactly this (update_node_record_set_primary, ..._status).
    with node2.connect() as conn, conn.transaction():
        conn.execute("UPDATE repmgr.nodes SET active = false WHERE node_id = 1")
        conn.execute("UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL WHERE node_id = 2")
        conn.execute("UPDATE repmgr.nodes SET upstream_node_id = 2 WHERE node_id = 3")
    node2.sql("SELECT pg_create_physical_replication_slot('repmgr_slot_3')")
    conninfo = node3.sql("SHOW primary_conninfo")[0][0]
    assert f"host={node1.address} " in conninfo, conninfo
    follow_node2 = conninfo.replace(f"host={node1.address} ", f"host={node2.address} ")
    node3.sql(sql.SQL("ALTER SYSTEM SET primary_conninfo = {}").format(sql.Literal(follow_node2)))
    node3.sql("ALTER SYSTEM SET primary_slot_name = 'repmgr_slot_3'")
    node3.sql("SELECT pg_reload_conf()")
    cluster.wait_streaming(node3, node2)


# -- the tests -------------------------------------------------------------------------------

def test_first_run_builds_a_streaming_cluster_registered_as_repmgr_would(provisioned):
    cluster, run = provisioned.cluster, provisioned.first_run
    node1, node2, node3 = cluster.nodes

    assert run.rc == 0
    assert sorted(run.recap) == ["node1", "node2", "node3"]
    assert all(counts["failed"] == 0 and counts["unreachable"] == 0 for counts in run.recap.values()), run.recap

    # Servers: node1 the primary, node2 and node3 streaming from it through their slots.
    assert [node.in_recovery() for node in cluster.nodes] == [False, True, True]
    assert replication(node1) == [
        ("node2", "streaming", "repmgr_slot_2", True),
        ("node3", "streaming", "repmgr_slot_3", True),
    ]
    assert wal_receiver(node2) == [("streaming", node1.address, "repmgr_slot_2")]
    assert wal_receiver(node3) == [("streaming", node1.address, "repmgr_slot_3")]
    # replication timeouts fitted to the failover's window (repmgr's defaults: 6 attempts, 10 s apart)
    for node in cluster.nodes:
        assert node.sql("SELECT current_setting('wal_sender_timeout'), current_setting('wal_receiver_timeout')") \
            == [("10s", "50s")]

    # Metadata: repmgr.nodes as `repmgr primary register` / `standby register` write it.
    def row(node, type_, upstream):
        return (node.node_id, type_, upstream, True, node.name, "default", 100, node.conninfo, "repmgr",
                f"repmgr_slot_{node.node_id}", str(node.repmgr_conf))

    expected_nodes = [row(node1, "primary", None), row(node2, "standby", 1), row(node3, "standby", 1)]
    assert nodes_table(node1) == expected_nodes
    cluster.wait_until(lambda: nodes_table(node3) == expected_nodes, what="node3's copy of repmgr.nodes is complete")

    # Events, with repmgr's detail texts (cluster_created has none, primary_register an empty one).
    cloned = f'cloned from host "{node1.address}", port {cluster.port}; backup method: pg_basebackup; --force: N'
    assert sorted(e[:4] for e in events(node1)) == sorted([
        (1, "cluster_created", True, None),
        (1, "primary_register", True, ""),
        (2, "standby_clone", True, cloned),
        (3, "standby_clone", True, cloned),
        (2, "standby_register", True, STANDBY_REGISTERED),
        (3, "standby_register", True, STANDBY_REGISTERED),
    ])

    # Data: a row written on node1 is read on both standbys.
    node1.sql("CREATE TABLE provision_probe (id int PRIMARY KEY, note text)")
    node1.sql("INSERT INTO provision_probe VALUES (1, 'written on node1')")
    for standby in (node2, node3):
        cluster.wait_until(
            lambda: standby.sql("SELECT note FROM provision_probe") == [("written on node1",)],
            what=f"the row written on node1 is on {standby.name}",
        )


def test_second_run_changes_nothing(provisioned):
    before = what_a_run_could_change(provisioned.cluster)

    run = provisioned.console.provision()

    assert run.rc == 0, run.output
    assert {host: counts["changed"] for host, counts in run.recap.items()} == {"node1": 0, "node2": 0, "node3": 0}
    assert run.failed() == 0
    assert what_a_run_could_change(provisioned.cluster) == before


def test_check_run_on_empty_hosts_runs_no_initdb_and_writes_no_file(provisioned):
    run, before, after, running = provisioned.check_on_empty_hosts
    assert run.rc == 0 and run.failed() == 0, run.output
    assert after == before, "a --check run wrote files: %s" % sorted(set(after) ^ set(before))
    assert running == [], "a --check run started servers"
    assert not any(path.endswith("/PG_VERSION") for path in after), "initdb ran"
    # it says what it would do
    assert all(counts["changed"] >= 1 for counts in run.recap.values()), run.recap


def test_check_run_reports_and_writes_nothing(provisioned, check_run):
    run, before, after = check_run

    assert run.rc == 0, run.output
    assert {host: counts["changed"] for host, counts in run.recap.items()} == {"node1": 0, "node2": 0, "node3": 0}
    assert after == before


def test_real_repmgr_cli_reads_the_provisioned_cluster(provisioned):
    cluster, console = provisioned.cluster, provisioned.console
    node1, node2, node3 = cluster.nodes

    info = console.cluster_info(node2, events=True, all=True)

    # The role wrote each node's repmgr.conf where the CLI (and repmgr.nodes.config_file) expect it.
    for node in cluster.nodes:
        show = console.repmgr_cluster_show(node)
        assert show.rc == 0, show.stdout + show.stderr
        assert {row["Name"]: row["Status"] for row in show.rows} == {
            "node1": "* running", "node2": "  running", "node3": "  running"}
        assert {row["Name"]: row["Status"] for row in show.rows} == {n["node_name"]: n["status"] for n in info["nodes"]}
        assert show.table == info["table"]
    assert info["exit_code"] == 0 and info["warnings_detected"] == []

    cli_events = console.repmgr_cluster_event(node2)
    assert cli_events.event_rows() == console.printed_events(info["events"])
    assert sorted(row[2] for row in cli_events.event_rows()) == [
        "cluster_created", "primary_register", "standby_clone", "standby_clone", "standby_register",
        "standby_register"]


def test_the_password_is_in_no_output_and_no_metadata(provisioned, check_run):
    cluster = provisioned.cluster
    password = cluster.password

    # Every console run checks its own output; the first and the most talkative (-vvv --diff) here again.
    for run in (provisioned.first_run, check_run[0]):
        assert password not in run.output
    # Where the password must not be either: metadata, events, repmgr.conf, the standbys' primary_conninfo.
    node1 = cluster.nodes[0]
    assert not any(password in str(row) for row in nodes_table(node1) + events(node1))
    for node in cluster.nodes:
        assert password not in node.repmgr_conf.read_text()
    for standby in cluster.nodes[1:]:
        conninfo = standby.sql("SHOW primary_conninfo")[0][0]
        assert "password" not in conninfo and f"passfile={cluster.passfile}" in conninfo


def test_rerun_after_a_manual_failover_never_starts_the_old_primary(failed_over):
    """The split-brain guard: node2 is the primary now, node1 holds a primary's data directory."""
    cluster, console = failed_over.cluster, failed_over.console
    node1, node2, node3 = cluster.nodes
    metadata_before, events_before = nodes_table(node2), events(node2)

    run = console.provision()

    # node1 fails with a message that says why and what to do; it is not started.
    assert run.rc != 0
    assert run.recap["node1"]["failed"] == 1, run.recap
    assert said(run, "node1 holds a primary's data directory"), run.output
    assert said(run, "node2 is the cluster's primary") and said(run, "rejoin"), run.output
    assert not node1.is_running()
    # node2 stays the primary, node3 keeps streaming from it; nothing else was done.
    assert {host: (counts["failed"], counts["changed"]) for host, counts in run.recap.items() if host != "node1"} == {
        "node2": (0, 0), "node3": (0, 0)}
    assert not node2.in_recovery()
    assert node3.in_recovery()
    assert replication(node2) == [("node3", "streaming", "repmgr_slot_3", True)]
    assert wal_receiver(node3) == [("streaming", node2.address, "repmgr_slot_3")]
    assert nodes_table(node2) == metadata_before
    assert [(r[0], r[1], r[2], r[3]) for r in metadata_before] == [
        (1, "primary", None, False), (2, "primary", None, True), (3, "standby", 2, True)]
    assert events(node2) == events_before


def test_rerun_with_the_old_primary_running_again_never_picks_it(failed_over):
    """Worse: someone started node1 by hand, so two servers run as primary. provision must not follow node1."""
    cluster, console = failed_over.cluster, failed_over.console
    node1, node2, node3 = cluster.nodes
    metadata_before, events_before = nodes_table(node2), events(node2)
    node1.start()
    try:
        assert not node1.in_recovery()  # the stale primary is up and writable: split brain

        run = console.provision()

        assert run.rc != 0
        assert run.recap["node1"]["failed"] >= 1, run.recap
        # The live primary is never told to be rejoined, and nobody is made to follow node1.
        assert not said(run, "node2 holds a primary's data directory"), run.output
        assert not said(run, 'upstream "node1"'), run.output
        assert not node2.in_recovery()
        assert replication(node2) == [("node3", "streaming", "repmgr_slot_3", True)]
        assert nodes_table(node2) == metadata_before
        assert events(node2) == events_before
    finally:
        node1.stop(mode="fast")


def test_a_stopped_new_primary_confirmed_by_its_standby_is_started_and_the_old_one_is_not(failed_over):
    """After the failover, node2 (the live primary) is stopped too; node3 runs and its metadata records node2.

    node3's testimony and the data directories agree (node2 is the primary of the newest timeline), so
    provision starts node2; node1's directory, the failed former primary's, is never started.
    """
    cluster, console = failed_over.cluster, failed_over.console
    node1, node2, node3 = cluster.nodes
    node2.stop(mode="fast")
    try:
        run = console.provision()

        assert run.recap["node2"]["failed"] == 0 and run.recap["node2"]["changed"] >= 1, run.output
        assert run.recap["node1"]["failed"] == 1, run.recap
        assert said(run, "node1 holds a primary's data directory"), run.output
        assert not node1.is_running(), "a failed former primary was started"
        assert node2.is_running() and not node2.in_recovery()
        cluster.wait_streaming(node3, node2)
    finally:
        if not node2.is_running():
            node2.start()
        cluster.wait_until(lambda: not node2.in_recovery(), what="node2 is back as the primary")


# -- a whole cluster stopped comes back in one run ---------------------------------------------

restart_cluster = cluster_fixture("provision-restart", 3, build=None, port=55605, first_octet=73)


@pytest.fixture()
def restartable(restart_cluster, console_for, tmp_path_factory) -> Provisioned:
    """A freshly provisioned cluster for each test: each one stops all of it its own way."""
    restart_cluster.destroy()
    restart_cluster.prepare()
    return provision_from_scratch(restart_cluster, console_for, tmp_path_factory)


def every_node_back(cluster):
    node1, node2, node3 = cluster.nodes
    assert [node.in_recovery() for node in cluster.nodes] == [False, True, True]
    cluster.wait_streaming(node2, node1)
    cluster.wait_streaming(node3, node1)
    node1.sql("CREATE TABLE IF NOT EXISTS restart_probe (id int)")
    probe = node1.sql("INSERT INTO restart_probe SELECT coalesce(max(id), 0) + 1 FROM restart_probe RETURNING id")
    cluster.wait_until(lambda: node3.sql("SELECT id FROM restart_probe WHERE id = %s", probe[0]) == probe,
                       what="a row written on node1 reaches node3")


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_stopped_cluster_comes_back_in_one_run(restartable, mode):
    """Maintenance (fast) or a power cut (immediate) of every node: provision decides from the data directories."""
    cluster, console = restartable.cluster, restartable.console
    metadata_before = nodes_table(cluster.nodes[0])
    for node in reversed(cluster.nodes):
        node.stop(mode=mode)

    run = console.provision()

    assert run.rc == 0 and run.failed() == 0, run.output
    every_node_back(cluster)
    # the starts are the only changes; the metadata is as it was
    assert {host: counts["changed"] for host, counts in run.recap.items()} == {"node1": 1, "node2": 1, "node3": 1}
    assert nodes_table(cluster.nodes[0]) == metadata_before


def test_a_stopped_cluster_with_two_primaries_on_the_newest_timeline_is_refused_and_nothing_starts(restartable):
    cluster, console = restartable.cluster, restartable.console
    node1, node2, _node3 = cluster.nodes
    for node in reversed(cluster.nodes):
        node.stop(mode="fast")
    (node2.datadir / "standby.signal").unlink()  # node2 would now start as a primary too
    try:
        run = console.provision()

        assert run.rc != 0
        assert said(run, "node1 and node2 were all primaries on the newest timeline 1"), run.output
        assert said(run, "Nothing was started. What each node holds: node1: primary, shut down, timeline 1"), \
            run.output
        assert not any(node.is_running() for node in cluster.nodes), "something was started"
    finally:
        (node2.datadir / "standby.signal").write_text("")
        cluster.os_user.chown(node2.datadir / "standby.signal")
    run = console.provision()
    assert run.rc == 0 and run.failed() == 0, run.output
    every_node_back(cluster)
    assert node1.in_recovery() is False


def test_a_primary_stopped_beside_running_standbys_starts_when_they_confirm_it_or_the_dba_says_so(restartable):
    """node1 stopped for maintenance while node2 and node3 run: their metadata records node1 as the primary
    and no data directory says otherwise, so one run starts it. With --limit node1 the standbys' data
    directories are not examined: node1 is refused until -e pgha_start_unconfirmed_primary=true."""
    cluster, console = restartable.cluster, restartable.console
    node1, node2, node3 = cluster.nodes

    node1.stop(mode="fast")
    run = console.provision()
    assert run.rc == 0 and run.failed() == 0, run.output
    assert {host: counts["changed"] for host, counts in run.recap.items()} == {"node1": 1, "node2": 0, "node3": 0}
    every_node_back(cluster)

    node1.stop(mode="fast")
    refused = console.provision(limit="node1")
    assert refused.rc != 0
    assert said(refused, "no node's metadata confirms that it is the cluster's live primary"), refused.output
    assert not node1.is_running()

    run = console.provision(limit="node1", extra_vars={"pgha_start_unconfirmed_primary": True})
    assert run.rc == 0 and run.failed() == 0, run.output
    assert run.recap["node1"]["changed"] == 1
    every_node_back(cluster)
    assert node2.in_recovery() and node3.in_recovery()
