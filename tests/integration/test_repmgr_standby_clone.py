"""repmgr_standby_clone and repmgr_database through the real `ansible` CLI (become postgres)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import psycopg
import pytest
import yaml

from ansible_cli import run_module
from harness import cluster_fixture

# node1 primary (registered), node2 a streaming standby; node3's directory is the clone target.
cluster = cluster_fixture("mod-clone", 3, port=55506, build=None)


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    return cluster.write_inventory(tmp_path_factory.mktemp("inv") / "clone.yml")


@pytest.fixture(scope="module")
def primary(cluster, inventory):
    """node1 running and registered, node2 a standby, node3 empty."""
    node1, node2, node3 = cluster.nodes
    cluster.build()
    node3.stop()
    shutil.rmtree(node3.datadir)
    os.mkdir(node3.datadir, 0o700)
    shutil.chown(node3.datadir, "postgres", "postgres")
    node1.sql("SELECT pg_drop_replication_slot('repmgr_slot_3')")
    run = run_module(inventory, "node1", "pgha.repmgr.repmgr_node",
                     dict(role="primary", node_id=1, node_name="node1", conninfo=node1.conninfo,
                          login_password=cluster.password))
    assert not run.failed, run.output
    return node1


def clone(cluster, inventory, target, **extra):
    node1 = cluster.nodes[0]
    args = dict(login_host=node1.address, login_port=node1.port, login_password=cluster.password,
                data_directory=str(target), node_id=3, node_name="node3", passfile=str(cluster.passfile))
    args.update(extra)
    run = run_module(inventory, "node3", "pgha.repmgr.repmgr_standby_clone", args, become=True)
    assert cluster.password not in run.output
    return run


def slot_exists(node, name="repmgr_slot_3"):
    return node.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (name,))[0][0] == 1


def test_check_mode_changes_nothing(cluster, inventory, primary):
    node3 = cluster.nodes[2]
    run = run_module(inventory, "node3", "pgha.repmgr.repmgr_standby_clone",
                     dict(login_host=primary.address, login_port=primary.port, login_password=cluster.password,
                          data_directory=str(node3.datadir), node_id=3, node_name="node3"),
                     become=True, check=True)
    assert run.changed and not run.failed, run.output
    assert os.listdir(node3.datadir) == []
    assert not slot_exists(primary)


def test_clone_into_an_empty_directory_makes_a_streaming_standby(cluster, inventory, primary):
    node3 = cluster.nodes[2]
    run = clone(cluster, inventory, node3.datadir)
    assert run.changed and not run.failed, run.output
    assert run.result["event_written"] is True
    assert (node3.datadir / "standby.signal").exists()
    auto_conf = (node3.datadir / "postgresql.auto.conf").read_text()
    assert "application_name=node3" in auto_conf and "primary_slot_name = 'repmgr_slot_3'" in auto_conf
    assert cluster.password not in auto_conf
    assert slot_exists(primary)
    assert primary.sql("SELECT node_id, event, details FROM repmgr.events WHERE event = 'standby_clone'") == [
        (3, "standby_clone",
         'cloned from host "%s", port %d; backup method: pg_basebackup; --force: N' % (primary.address, primary.port))]
    # the node's own listen address etc. (a clone copies node1's), then start: it streams
    cluster._configure_node(node3)  # pylint: disable=protected-access
    node3.start()
    cluster.wait_streaming(node3, primary)

    again = clone(cluster, inventory, node3.datadir)
    assert not again.changed and not again.failed
    assert "already holds a standby of this cluster" in again.result["reason"]


def test_refuses_the_directory_of_a_running_server_even_with_force(cluster, inventory, primary):
    run = clone(cluster, inventory, primary.datadir, force=True)
    assert run.failed and "is running from" in run.msg
    assert primary.in_recovery() is False


def scratch_dir(cluster, name):
    """A directory the postgres OS user can reach (pytest's tmp_path is root's, mode 0700)."""
    path = cluster.cluster_dir / name
    shutil.rmtree(path, ignore_errors=True)
    return path


def test_refuses_another_clusters_directory_unless_forced(cluster, inventory, primary):
    other = scratch_dir(cluster, "other")
    os.mkdir(other, 0o700)
    shutil.chown(other, "postgres", "postgres")
    subprocess.run(["runuser", "-u", "postgres", "--", str(cluster.bindir / "initdb"), "-D", str(other)],
                   check=True, capture_output=True)
    files_before = sorted(str(path.relative_to(other)) for path in other.rglob("*"))
    run = clone(cluster, inventory, other, node_id=4, node_name="node4", slot_name="repmgr_slot_4")
    assert run.failed and "is not empty: it holds a data directory of another cluster" in run.msg
    assert "set force: true to replace it" in run.msg
    assert not slot_exists(primary, "repmgr_slot_4")
    assert sorted(str(path.relative_to(other)) for path in other.rglob("*")) == files_before, \
        "a refused clone leaves the existing files in place"

    forced = clone(cluster, inventory, other, node_id=4, node_name="node4", slot_name="repmgr_slot_4", force=True)
    assert forced.changed and not forced.failed, forced.output
    assert (other / "standby.signal").exists()
    assert primary.sql("SELECT details FROM repmgr.events WHERE event = 'standby_clone' AND node_id = 4")[0][0] \
        .endswith("--force: Y")
    primary.sql("SELECT pg_drop_replication_slot('repmgr_slot_4')")


def node3_settings_inventory(cluster, path, notes, **node3):
    """The harness's inventory, with node3's own settings changed and a notification command for every node.

    The command appends the event's node ID, the event and its success to `notes`, as the PostgreSQL OS user.
    No pgha_node_name: the README's default, the inventory hostname, applies.
    """
    cluster.write_inventory(path)
    inventory = yaml.safe_load(path.read_text())
    inventory["all"]["vars"]["pgha_event_notification_command"] = "echo %%n %%e %%s >> %s" % notes
    inventory["all"]["children"]["pgha_nodes"]["hosts"]["node3"].update(node3)
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def notes_file(cluster, name):
    """An empty file the notification command (run as postgres) appends to."""
    path = cluster.cluster_dir / name
    path.write_text("")
    shutil.chown(path, "postgres", "postgres")
    return path


def test_without_arguments_but_the_upstream_the_inventory_describes_the_new_standby(
        cluster, primary, tmp_path):
    """`ansible node3 -m pgha.repmgr.repmgr_standby_clone -a 'login_host=node1'`: node ID, name, data directory,
    passfile, bin directory, slots, password and the event notification command come from node3's pgha_*."""
    target, notes = scratch_dir(cluster, "from-inventory"), notes_file(cluster, "inventory-notes")
    inventory = node3_settings_inventory(cluster, tmp_path / "inventory.yml", notes, pgha_node_id=7,
                                         pgha_data_directory=str(target), pgha_use_slots=False)
    try:
        run = run_module(inventory, "node3", "pgha.repmgr.repmgr_standby_clone",
                         dict(login_host=primary.address, login_port=primary.port), become=True)
        assert run.changed and not run.failed, run.output
        assert cluster.password not in run.output
        assert (run.result["data_directory"], run.result["slot_name"], run.result["pg_bindir"]) == \
            (str(target), None, str(cluster.bindir))
        assert (target / "standby.signal").exists() and not slot_exists(primary, "repmgr_slot_7")
        conninfo = run.result["primary_conninfo"]
        assert "application_name=node3" in conninfo and "passfile=%s" % cluster.passfile in conninfo, conninfo
        assert primary.sql("SELECT count(*) FROM repmgr.events WHERE event = 'standby_clone' AND node_id = 7") == \
            [(1,)]
        assert notes.read_text() == "7 standby_clone 1\n"
    finally:
        shutil.rmtree(target, ignore_errors=True)
        primary.sql("DELETE FROM repmgr.events WHERE node_id = 7")


def test_what_the_task_says_wins_over_the_inventory(cluster, primary, tmp_path):
    """The same inventory, and a task that names another node, directory, slot use and notification command."""
    in_inventory = scratch_dir(cluster, "named-in-inventory")
    target = scratch_dir(cluster, "named-in-task")
    inventory_notes, task_notes = notes_file(cluster, "inventory-notes"), notes_file(cluster, "task-notes")
    inventory = node3_settings_inventory(cluster, tmp_path / "inventory.yml", inventory_notes, pgha_node_id=7,
                                         pgha_data_directory=str(in_inventory), pgha_use_slots=False)
    try:
        run = run_module(inventory, "node3", "pgha.repmgr.repmgr_standby_clone",
                         dict(login_host=primary.address, login_port=primary.port, node_id=8, node_name="node8",
                              data_directory=str(target), use_slot=True,
                              event_notification_command="echo task %%n %%e >> %s" % task_notes),
                         become=True)
        assert run.changed and not run.failed, run.output
        assert (run.result["data_directory"], run.result["slot_name"]) == (str(target), "repmgr_slot_8")
        assert (target / "standby.signal").exists() and not in_inventory.exists()
        assert slot_exists(primary, "repmgr_slot_8") and not slot_exists(primary, "repmgr_slot_7")
        assert "application_name=node8" in run.result["primary_conninfo"]
        assert primary.sql("SELECT node_id FROM repmgr.events WHERE event = 'standby_clone' AND node_id IN (7, 8)") \
            == [(8,)]
        assert (task_notes.read_text(), inventory_notes.read_text()) == ("task 8 standby_clone\n", "")
    finally:
        shutil.rmtree(target, ignore_errors=True)
        if slot_exists(primary, "repmgr_slot_8"):
            primary.sql("SELECT pg_drop_replication_slot('repmgr_slot_8')")
        primary.sql("DELETE FROM repmgr.events WHERE node_id = 8")


def test_a_copy_that_fails_midway_leaves_no_half_made_directory(cluster, inventory, primary):
    """The upstream stops while pg_basebackup copies (throttled so that it is still copying): the half-made
    directory is removed; the slot made for the clone cannot be dropped with the upstream down, and the
    failure says so, naming it."""
    node2 = cluster.nodes[1]
    target = scratch_dir(cluster, "broken")
    runs = []
    copying = threading.Thread(target=lambda: runs.append(clone(
        cluster, inventory, target, node_id=5, node_name="node5", slot_name="repmgr_slot_5",
        pg_basebackup_options=["--max-rate=32k"])))
    copying.start()
    try:
        cluster.wait_until(lambda: (target / "PG_VERSION").exists() or (target / "base").exists(), timeout=60,
                           what="pg_basebackup has started writing the copy")
        primary.stop(mode="immediate")
        copying.join(timeout=120)
        assert not copying.is_alive(), "the clone did not end after its upstream stopped"
    finally:
        if not primary.is_running():
            primary.start()
    run = runs[0]
    assert run.failed and "pg_basebackup failed" in run.msg, run.output
    assert not target.exists(), "the half-made data directory is removed"
    assert "repmgr_slot_5" in run.msg and "pg_drop_replication_slot" in run.msg, run.msg
    primary.sql("SELECT pg_drop_replication_slot('repmgr_slot_5')")
    cluster.wait_streaming(node2, primary)


def test_bad_input_and_running_as_root(cluster, inventory, primary):
    relative = clone(cluster, inventory, "relative/dir")
    assert relative.failed and "data_directory must be an absolute path" in relative.msg
    zero = clone(cluster, inventory, "/tmp/x", node_id=0)
    assert zero.failed and "node_id must be a positive integer (got 0)" in zero.msg
    as_root = run_module(inventory, "node3", "pgha.repmgr.repmgr_standby_clone",
                         dict(login_host=primary.address, login_port=primary.port, login_password=cluster.password,
                              data_directory="/tmp/pgha-never", node_id=6, node_name="node6"))
    assert as_root.failed and "must run as the PostgreSQL OS user" in as_root.msg


def stored_password(node, role):
    return node.sql("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,))[0][0]


def logs_in(node, role, password, dbname):
    try:
        with psycopg.connect(host=node.address, port=node.port, user=role, password=password, dbname=dbname,
                             connect_timeout=5) as conn:
            return conn.execute("SELECT current_user").fetchone()[0] == role
    except psycopg.OperationalError:
        return False


def test_repmgr_database_creates_role_and_database_idempotently(cluster, inventory, primary):
    args = dict(login_unix_socket=str(primary.socket_dir), login_port=primary.port, user="dba_test",
                password="Db4-test-pw", database="dba_db")
    # Every statement the server receives goes to its log: the password must not be among them.
    primary.psql("ALTER SYSTEM SET log_statement = 'all'; SELECT pg_reload_conf();")
    log_start = primary.logfile.stat().st_size
    check = run_module(inventory, "node1", "pgha.repmgr.repmgr_database", args, become=True, check=True)
    assert check.changed and not check.failed, check.output
    assert primary.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'dba_test'") == [(0,)]

    run = run_module(inventory, "node1", "pgha.repmgr.repmgr_database", args, become=True)
    assert run.changed and not run.failed, run.output
    assert "Db4-test-pw" not in run.output
    assert primary.sql("SELECT rolsuper, rolreplication, rolcanlogin FROM pg_roles WHERE rolname = 'dba_test'") == [
        (True, True, True)]
    assert primary.sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'dba_db'") == [("dba_test",)]
    assert not run_module(inventory, "node1", "pgha.repmgr.repmgr_database", args, become=True).changed

    assert stored_password(primary, "dba_test").startswith("SCRAM-SHA-256$")
    assert logs_in(primary, "dba_test", "Db4-test-pw", "dba_db")

    changed_pw = run_module(inventory, "node1", "pgha.repmgr.repmgr_database", dict(args, password="New-pw-2"),
                            become=True)
    assert changed_pw.changed and "New-pw-2" not in changed_pw.output
    assert "PASSWORD '********'" in " ".join(changed_pw.result["queries"])
    assert stored_password(primary, "dba_test").startswith("SCRAM-SHA-256$")
    assert logs_in(primary, "dba_test", "New-pw-2", "dba_db")
    assert not logs_in(primary, "dba_test", "Db4-test-pw", "dba_db")

    primary.psql("ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf();")
    with open(primary.logfile, errors="replace") as log:
        log.seek(log_start)
        server_log = log.read()
    assert "ALTER ROLE" in server_log and "SCRAM-SHA-256$" in server_log, "log_statement = all logged the statements"
    assert "Db4-test-pw" not in server_log and "New-pw-2" not in server_log, "a clear password reached the server"
