"""The automatic failover end to end, scenario by scenario, under a real ansible-rulebook.

Every scenario builds a fresh cluster of real PostgreSQL servers on loopback, registers it with
pgha.repmgr.repmgr_node, starts `ansible-rulebook -r pgha.repmgr.failover` (the repmgr_monitor
source; 3 attempts 1 s apart, a check every 1 s), breaks something, and then checks what a DBA
would: which node accepts writes (an INSERT on every node), that no row a writer was told was
committed is missing, the rows in repmgr.events, and that the monitor is still running.

Unless a scenario says otherwise the primary replicates synchronously to any one standby
(synchronous_standby_names = 'ANY 1 (*)'): an acknowledged commit is then on a standby, and
losing it would be the failover's fault.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from ansible_cli import run_module, run_playbook
from scenario import Scenario, in_recovery, scenarios

PORT = 55661
FIRST_OCTET = 71


@pytest.fixture()
def scenario(tmp_path, request):
    yield from scenarios(request, lambda **kwargs: Scenario(tmp_path, "failover", PORT, FIRST_OCTET, **kwargs))


# -- the scenarios --------------------------------------------------------------------------------

def test_a_crashed_primary_is_replaced_by_the_best_standby_and_fenced(scenario):
    s = scenario().register(priorities={2: 50})  # same WAL: node3 wins on priority
    node1, node2, node3 = s.nodes
    s.start_writer()
    book = s.rulebook(verbose=True)
    node1.crash()
    s.cluster.wait_until(lambda: s.named("repmgrd_failover_follow", node3) if in_recovery(node3) is False else False,
                         timeout=60, what="node3 is promoted and node2 follows it")
    new = s.settled_on("node3")  # which also finds no password in the rulebook's output
    assert "ESTABLISH LOCAL CONNECTION" in book.output(), "the failover playbook ran at -vvv"
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert new.sql("SELECT node_id, type, upstream_node_id, active FROM repmgr.nodes ORDER BY node_id") == [
        (1, "primary", None, False), (2, "standby", 3, True), (3, "primary", None, True)]
    logged = s.events(new)
    assert (3, "repmgrd_failover_promote",
            'node "node3" (ID: 3) promoted to primary; old primary "node1" (ID: 1) marked as failed', True) in logged
    assert (2, "repmgrd_failover_follow", 'node "node2" (ID: 2) now following new upstream node "node3" (ID: 3)',
            True) in logged
    # the monitor's own rows, written on the primary of the moment (the disconnect waited for the new one)
    assert (1, "repmgrd_start", 'monitoring cluster primary "node1" (ID: 1)', True) in logged
    assert (2, "repmgrd_start", 'monitoring connection to upstream node "node1" (ID: 1)', True) in logged
    assert (1, "repmgrd_upstream_disconnect", 'unable to connect to upstream node "node1" (ID: 1)', True) in logged
    assert new.sql("SELECT term FROM repmgr.voting_term") == [(2,)]
    # fenced: a restart of node1 comes up read-only
    assert (node1.datadir / "standby.signal").exists() and not node1.is_running()
    assert "'event': 'new_primary'" in book.output()
    # the real repmgr CLI sees the same cluster
    s.cluster.write_repmgr_conf(node2)
    rc, out, _err = s.cluster.repmgr(node2, "cluster", "show")
    assert rc == 25 and "- failed" in out and "* running" in out


def test_a_hung_primary_is_failed_over_and_stays_fenced_when_it_resumes(scenario):
    """SIGSTOP of the postmaster and all its children for 30 s: the standbys' WAL receivers keep saying
    "streaming" but hear nothing; the failover happens, and the resumed node accepts no write."""
    s = scenario().register()
    node1 = s.nodes[0]
    s.start_writer()
    s.rulebook()
    node1.hang(whole_server=True)
    hung = time.monotonic()
    s.cluster.wait_until(lambda: any(in_recovery(n) is False for n in s.nodes[1:]), timeout=60,
                         what="a standby is promoted while node1 is hung")
    time.sleep(max(0.0, 30 - (time.monotonic() - hung)))
    node1.resume()
    winner = next(n.name for n in s.nodes[1:] if in_recovery(n) is False)
    new = s.settled_on(winner)
    assert not node1.is_running(), "the hung primary was fenced (killed)"
    assert s.promotions(new, (1, 1)) == (1, 1)


def test_a_blip_shorter_than_the_window_changes_nothing(scenario):
    """The failover is armed at the failed check; the primary is back before the window's end: it stands down."""
    s = scenario().register()
    node1 = s.nodes[0]
    s.start_writer()
    book = s.rulebook(pgha_reconnect_attempts=6)  # a 5 s window
    node1.crash()
    node1.start()
    book.wait_for("'event': 'repmgrd_upstream_reconnect'", 30)
    book.wait_for("no failover of node1", 60)  # the armed run says why it changed nothing
    assert "'event': 'primary_lost'" not in book.output()
    new = s.settled_on("node1")
    assert s.promotions(new, (0, 0)) == (0, 0)
    assert s.named("repmgrd_upstream_reconnect", new)


def test_a_standby_crash_is_recorded_and_nothing_fails_over(scenario):
    s = scenario().register()
    node1, _node2, node3 = s.nodes
    s.start_writer()
    book = s.rulebook()
    node3.crash()
    book.wait_for("'event': 'standby_failure'", 30)
    s.cluster.wait_until(lambda: node1.sql("SELECT active FROM repmgr.nodes WHERE node_id = 3") == [(False,)],
                         what="node3 is marked inactive, as repmgrd does")
    assert (3, "standby_failure", 'unable to connect to local node "node3" (ID: 3), marking inactive', True) \
        in s.events(node1)
    node3.start()
    book.wait_for("'event': 'standby_recovery'", 30)
    s.cluster.wait_until(lambda: node1.sql("SELECT active FROM repmgr.nodes WHERE node_id = 3") == [(True,)],
                         what="node3 is marked active again")
    assert "'event': 'primary_failure'" not in book.output()
    new = s.settled_on("node1")
    assert s.promotions(new, (0, 0)) == (0, 0)
    assert (3, "standby_recovery", 'reconnected to local node "node3" (ID: 3), marking active', True) \
        in s.events(node1)
    book.stop()  # SIGTERM, as a service manager stops it
    assert (1, "repmgrd_shutdown", "TERM signal received", True) in s.events(node1)


def test_the_monitor_alone_cut_off_changes_nothing_then_a_real_death_fails_over(scenario):
    """The monitor reaches node1 through a proxy; cutting it looks like a lost primary to the monitor,
    but the standbys still see node1: no failover. Then node1 really dies: the repeated event fails it over."""
    s = scenario().register(priorities={3: 50})
    node1, node2, _node3 = s.nodes
    proxy = s.cluster.proxy(node1)
    s.start_writer()
    book = s.rulebook(pgha_monitor_conninfo=[node2.conninfo], pgha_node_conninfo={"node1": proxy.conninfo})
    try:
        proxy.cut()
        book.wait_for("no failover of node1: the primary is still visible from node2, node3", 60)
        assert s.promotions(node1, (0, 0)) == (0, 0)
        assert s.named("repmgrd_failover_aborted", node1), "the reason is logged on the primary"
        node1.crash()
        s.cluster.wait_until(lambda: in_recovery(node2) is False, timeout=60,
                             what="the repeated primary_failure fails node1 over")
    finally:
        proxy.restore()
        proxy.close()
    new = s.settled_on("node2")
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert book.count("'event': 'primary_failure'") >= 2


def test_a_second_failure_after_the_old_primary_was_rejoined_is_failed_over_too(scenario):
    s = scenario().register(priorities={3: 50})
    node1, node2, node3 = s.nodes
    s.start_writer()
    book = s.rulebook()
    node1.crash()
    s.cluster.wait_streaming(node3, node2, timeout=60)
    s.settled_on("node2")
    rejoined = run_playbook("pgha.repmgr.rejoin", s.inventory, extra_vars={"node": "node1"})
    assert rejoined.rc == 0 and rejoined.failed() == 0, rejoined.output
    s.cluster.wait_streaming(node1, node2, timeout=60)
    s.start_writer()
    node2.crash()
    # the winner is repmgr's: the furthest WAL first (the writer may leave node3 a few bytes ahead of the
    # rejoined node1), then priority; either way exactly one of them is promoted and the other follows it
    s.cluster.wait_until(lambda: in_recovery(node1) is False or in_recovery(node3) is False, timeout=60,
                         what="node1 or node3 is promoted")
    winner, other = (node1, node3) if in_recovery(node1) is False else (node3, node1)
    s.cluster.wait_streaming(other, winner, timeout=60)
    new = s.settled_on(winner.name)
    s.cluster.wait_until(lambda: len(s.named("repmgrd_failover_promote", new)) >= 2, what="both promotions recorded")
    assert len(s.named("repmgrd_failover_promote", new)) == 2
    assert new.sql("SELECT term FROM repmgr.voting_term") == [(3,)]
    assert book.count("'event': 'primary_failure'") >= 2


def test_a_cascaded_standby_does_not_stop_the_failover_and_follows(scenario):
    """node3 streams from node2: its streaming is no evidence that node1 is alive."""
    s = scenario(upstreams={3: 2}).register(upstreams={3: 2})
    node1, node2, node3 = s.nodes
    s.start_writer()
    s.rulebook()
    node1.crash()
    s.cluster.wait_until(lambda: in_recovery(node2) is False, timeout=60, what="node2 is promoted")
    new = s.settled_on("node2")
    # the cascade follows node2 onto the new timeline and has every row
    s.cluster.wait_until(lambda: node3.sql("SELECT count(*) FROM ledger WHERE id > 0", dbname="postgres")
                         == new.sql("SELECT count(*) FROM ledger WHERE id > 0", dbname="postgres"),
                         what="node3 has every row of node2")
    assert node3.in_recovery() and s.promotions(new, (1, 1)) == (1, 1)


def test_a_priority_zero_standby_with_the_most_wal_is_never_promoted_and_nothing_it_has_is_lost(scenario):
    s = scenario().register(priorities={2: 0})
    node1, node2, node3 = s.nodes
    s.start_writer()
    # node3 stops streaming: only node2 (priority 0) acknowledges the writer's commits from now on
    node3.sql("ALTER SYSTEM SET primary_conninfo = ''")
    node3.sql("SELECT pg_reload_conf()")
    s.cluster.wait_until(lambda: not node1.sql(
        "SELECT 1 FROM pg_stat_replication WHERE application_name = 'node3'"), what="node3 stopped streaming")
    mark = len(s.writer.committed)
    s.cluster.wait_until(lambda: len(s.writer.committed) > mark + 50, what="node3 is behind")
    book = s.rulebook()
    node1.crash()
    s.cluster.wait_until(lambda: in_recovery(node3) is False, timeout=60, what="node3 is promoted")
    s.cluster.wait_streaming(node2, node3, timeout=60)
    new = s.settled_on("node3")
    assert in_recovery(node2) is True
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert "wins: the only candidate" in book.output()


def test_when_the_primarys_whole_location_is_lost_nothing_fails_over(scenario):
    s = scenario().register(locations={1: "dc1", 2: "dc1", 3: "dc2"})
    node1, node2, node3 = s.nodes
    s.start_writer()
    book = s.rulebook()
    node1.crash()
    node2.crash()
    book.wait_for('no failover of node1: no node in the primary\'s location \\"dc1\\" answered: assuming a '
                  'network split', 60)  # as the JSON result prints it
    assert in_recovery(node3) is True and s.cluster.writable_nodes() == []
    node2.start()
    node1.start()
    new = s.settled_on("node1")
    assert s.promotions(new, (0, 0)) == (0, 0)


def test_a_witness_counts_for_the_quorum_and_follows_the_new_primary(scenario):
    s = scenario(witnesses=(3,), sync=False).register(witnesses=(3,))
    node1, node2, witness = s.nodes
    s.start_writer().stop()  # asynchronous here (one standby): stop, and let node2 have every row
    s.cluster.wait_until(lambda: s.writer.lost_on(node2) == [], what="node2 has every row")
    s.rulebook()
    s.cluster.wait_until(lambda: len(s.named("repmgrd_start", node2)) == 3, what="node2 has the monitor's rows")
    node1.crash()
    s.cluster.wait_until(lambda: node2.sql("SELECT upstream_node_id FROM repmgr.nodes WHERE node_id = 3")
                         == [(2,)] if in_recovery(node2) is False else False, timeout=60,
                         what="node2 is promoted and the witness follows it")
    new = s.settled_on("node2")
    assert witness.sql("SELECT * FROM repmgr.nodes ORDER BY node_id") == new.sql(
        "SELECT * FROM repmgr.nodes ORDER BY node_id"), "the witness holds a fresh copy of the node records"
    assert (3, "repmgrd_failover_follow", 'witness node "node3" (ID: 3) now following new primary node "node2" '
            '(ID: 2)', True) in s.events(new)
    assert (3, "repmgrd_start", 'witness monitoring connection to primary node "node1" (ID: 1)', True) \
        in s.events(new)


def test_a_winner_that_dies_right_after_the_election_hands_over_to_the_next_candidate(scenario):
    """pgha_fence_command runs between the election and the promotion: here it also crashes node4, the winner."""
    s = scenario(nodes=4).register(priorities={4: 200, 3: 50})
    node1, node2, _node3, node4 = s.nodes
    s.start_writer()
    told = s.tmp_path / "fence-command-was-told"
    crash_winner = ["sh", "-c", 'echo "$PGHA_FENCE_NODE_NAME $PGHA_FENCE_NODE_ID" > %s && exec "$0" -m harness crash '
                    "--name %s node4" % (told, s.cluster.name), sys.executable]
    book = s.rulebook(inventory_vars=dict(pgha_fence_command=crash_winner))
    node1.crash()
    s.cluster.wait_until(lambda: in_recovery(node2) is False, timeout=90, what="node2, the next candidate, wins")
    new = s.settled_on("node2")
    assert told.read_text().split() == ["node1", "1"]
    assert not node4.is_running()
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert "wins: same WAL, higher priority" in book.output()


def test_a_monitor_killed_after_the_promotion_finishes_the_failover_when_it_starts_again(scenario):
    s = scenario().register(priorities={3: 50})
    node1, node2, node3 = s.nodes
    s.start_writer()
    first = s.rulebook(name="first")
    node1.crash()
    deadline = time.monotonic() + 60
    while in_recovery(node2) is not False:
        assert time.monotonic() < deadline, first.output()[-5000:]
        time.sleep(0.02)
    first.kill()  # the monitor and its playbook die mid-failover
    s.rulebooks.remove(first)
    second = s.rulebook(name="second")
    s.cluster.wait_streaming(node3, node2, timeout=90)
    new = s.settled_on("node2")
    s.cluster.wait_until(lambda: s.named("repmgrd_failover_promote", new), what="the promotion is recorded")
    time.sleep(2)
    assert len(s.named("repmgrd_failover_promote", new)) == 1, "one promotion"
    assert in_recovery(node3) is True
    assert "'reason': 'unfinished'" in second.output()


def test_two_monitors_at_once_cause_one_promotion(scenario):
    s = scenario().register(priorities={3: 50})
    node1, _node2, node3 = s.nodes
    s.start_writer()
    s.rulebook(name="one")
    s.rulebook(name="two")
    node1.crash()
    s.cluster.wait_streaming(node3, s.node("node2"), timeout=60)
    new = s.settled_on("node2")
    time.sleep(5)  # let the slower run finish too
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert new.sql("SELECT term FROM repmgr.voting_term") == [(2,)]


def test_a_primary_with_every_connection_taken_is_not_failed_over(scenario):
    s = scenario().register()
    node1 = s.nodes[0]
    s.start_writer()
    book = s.rulebook()
    held = []
    try:
        for _attempt in range(80):
            try:
                held.append(node1.connect(dbname="postgres"))
            except psycopg.OperationalError as error:
                assert "too many clients" in str(error)
                break
        else:
            pytest.fail("max_connections was never reached")
        time.sleep(15)  # several checks, windows and repeat intervals
    finally:
        for conn in held:
            conn.close()
    assert "'event': 'primary_failure'" not in book.output()
    new = s.settled_on("node1")
    assert s.promotions(new, (0, 0)) == (0, 0)


def test_an_invalid_conninfo_in_the_metadata_does_not_stop_the_monitor(scenario):
    s = scenario().register(priorities={3: 50})
    node1, node2, node3 = s.nodes
    book = s.rulebook()
    node1.sql("UPDATE repmgr.nodes SET conninfo = %s WHERE node_id = 3", (node3.conninfo + " application_name='oops",))
    book.wait_for("'event': 'monitor_error'", 30)
    assert "node3" in book.output().split("'event': 'monitor_error'")[1][:2000]
    node1.sql("UPDATE repmgr.nodes SET conninfo = %s WHERE node_id = 3", (node3.conninfo,))
    s.start_writer()
    node1.crash()
    s.cluster.wait_streaming(node3, node2, timeout=60)
    new = s.settled_on("node2")
    assert s.promotions(new, (1, 1)) == (1, 1)


def test_no_acknowledged_row_is_lost_under_pgbench_load(scenario):
    s = scenario().register()
    node1 = s.nodes[0]
    env = dict(os.environ, PGPASSWORD=s.cluster.password)
    pgbench = [str(s.cluster.bindir / "pgbench"), "-h", node1.address, "-p", str(node1.port), "-U", "repmgr",
               "postgres"]
    subprocess.run(pgbench[:1] + ["-i", "-s", "2", "-q"] + pgbench[1:], env=env, check=True, capture_output=True,
                   timeout=120)
    load = subprocess.Popen(pgbench[:1] + ["-c", "4", "-j", "2", "-T", "60"] + pgbench[1:], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s.start_writer()
        s.rulebook()
        time.sleep(3)
        node1.crash()
        s.cluster.wait_until(lambda: any(in_recovery(n) is False for n in s.nodes[1:]), timeout=60,
                             what="a standby is promoted under load")
        winner = next(n.name for n in s.nodes[1:] if in_recovery(n) is False)
        new = s.settled_on(winner)
    finally:
        load.kill()
        load.wait(30)
    assert len(s.writer.committed) > 100
    assert s.promotions(new, (1, 1)) == (1, 1)


def test_a_fence_command_that_fails_stops_the_promotion(scenario):
    s = scenario().register()
    node1, node2, node3 = s.nodes
    s.start_writer()
    book = s.rulebook(inventory_vars=dict(pgha_fence_command=["false"]))
    node1.crash()
    book.wait_for("could not fence node1", 60)
    time.sleep(2)
    assert in_recovery(node2) is True and in_recovery(node3) is True, "nothing was promoted"
    node1.start()  # the primary was only crashed: back, the cluster goes on
    s.settled_on("node1")


def test_a_failed_former_primary_started_by_hand_is_fenced_at_once_and_rejoined(scenario):
    """After a failover node1 is started again as a primary (standby.signal removed by hand): the monitor
    reports stale_primary, and the rule fences it; with pgha_auto_rejoin it comes back as a standby."""
    s = scenario().register(priorities={3: 50})
    node1, node2, node3 = s.nodes
    book = s.rulebook(inventory_vars=dict(pgha_auto_rejoin=True))
    node1.crash()
    s.cluster.wait_streaming(node3, node2, timeout=60)
    signal_file = node1.datadir / "standby.signal"
    s.cluster.wait_until(signal_file.exists, timeout=30, what="the failover fenced node1")
    s.start_writer()
    signal_file.unlink()
    node1.start()  # a writable former primary on timeline 1, beside node2 on timeline 2
    book.wait_for("'event': 'stale_primary'", 30)
    s.cluster.wait_streaming(node1, node2, timeout=90)
    assert node1.in_recovery()
    new = s.settled_on("node2")
    s.cluster.wait_until(lambda: s.named("node_rejoin", new), what="the rejoin is recorded")


# -- automatic failover paused (repmgr service pause) ---------------------------------------------

def test_a_crash_while_paused_starts_no_failover_and_unpausing_with_the_primary_dead_fails_it_over(scenario):
    """pgha.repmgr.pause, then the primary crashes: the monitor reports it and nothing is promoted, however long
    it stays down. As repmgr's unpause reaches each standby's repmgrd, pgha.repmgr.unpause with no primary writes
    the unpause in each standby's own settings: the lost primary is failed over, and the promotion records the
    unpause for the whole cluster. A later pause, being newer, wins over the standbys' own unpause."""
    s = scenario().register(priorities={3: 50})
    node1, node2, node3 = s.nodes
    book = s.rulebook()
    paused = run_playbook("pgha.repmgr.pause", s.inventory, extra_vars={"reason": "maintenance"})
    assert paused.rc == 0 and paused.changed() == 1, paused.output
    book.wait_for("'event': 'failover_paused'", 30)
    again = run_playbook("pgha.repmgr.pause", s.inventory)
    assert again.rc == 0 and again.changed() == 0, again.output  # already paused: nothing to do

    s.start_writer()
    node1.crash()
    book.wait_for("'event': 'primary_failure_paused'", 30)
    book.wait_for("'event': 'primary_lost'", 30)
    deadline = time.monotonic() + 10  # five windows: still nothing promoted, no failover run started
    while time.monotonic() < deadline:
        assert in_recovery(node2) and in_recovery(node3), "a node was promoted while automatic failover was paused"
        time.sleep(0.5)
    assert book.count("'event': 'primary_failure'") == 0
    assert s.cluster.writable_nodes() == []
    refused = run_playbook("pgha.repmgr.pause", s.inventory)  # a pause needs the primary
    assert refused.rc != 0 and "none answers" in refused.output and "nothing was changed" in refused.output

    checked = run_playbook("pgha.repmgr.unpause", s.inventory, check=True)
    assert checked.rc == 0 and "would be unpaused on standby node2, node3" in checked.output, checked.output
    assert in_recovery(node2) and in_recovery(node3) and book.count("'event': 'failover_unpaused'") == 0

    unpaused = run_playbook("pgha.repmgr.unpause", s.inventory)
    assert unpaused.rc == 0 and unpaused.changed() == 1, unpaused.output
    assert "unpaused on standby node2, node3" in unpaused.output and s.cluster.password not in unpaused.output
    book.wait_for("'event': 'failover_unpaused'", 30)
    s.cluster.wait_until(lambda: in_recovery(node2) is False, timeout=90, what="node2 is promoted once unpaused")
    new = s.settled_on("node2")
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert [(row[1], row[2]) for row in s.events(new) if row[1].startswith("pgha_failover_")] == [
        ("pgha_failover_paused", "automatic failover paused: maintenance"),
        ("pgha_failover_unpaused", "automatic failover unpaused: on the standbys while no primary answered")]
    s.cluster.wait_streaming(node3, node2)
    for node in (node2, node3):  # the cluster's switch, in every copy
        assert run_module(s.inventory, node.name, "pgha.repmgr.repmgr_cluster_info").result["failover_paused"] is False

    # a later pause is newer than the standbys' own unpause, and wins on them too
    repaused = run_playbook("pgha.repmgr.pause", s.inventory)
    assert repaused.rc == 0 and repaused.changed() == 1, repaused.output
    s.cluster.wait_until(lambda: run_module(s.inventory, node3.name, "pgha.repmgr.repmgr_cluster_info")
                         .result["failover_paused"] is True, timeout=30, what="node3 reads the new pause")
    book.wait_for("'event': 'failover_paused'", 30, count=2)


def test_a_switchover_with_the_rulebook_running_starts_no_failover(scenario):
    """The switchover pauses automatic failover before it stops the primary and resumes it at the end: the
    monitor sees a planned stop, not a failure; afterwards it watches the new primary, and a crash of that one
    is failed over again."""
    s = scenario().register()
    node1, node2, node3 = s.nodes
    s.start_writer()
    book = s.rulebook()
    run = run_playbook("pgha.repmgr.switchover", s.inventory, extra_vars={"new_primary": "node2"},
                       env={"ANSIBLE_VERBOSITY": "3"})
    assert run.rc == 0 and run.failed() == 0, run.output
    assert s.cluster.password not in run.output
    new = s.settled_on("node2")
    s.cluster.wait_streaming(node1, node2, timeout=60)
    s.cluster.wait_streaming(node3, node2, timeout=60)
    book.wait_for("'event': 'new_primary'", 30)
    book.wait_for("'event': 'failover_unpaused'", 30)  # the monitor's next survey after the switchover's end
    assert book.count("'event': 'primary_failure'") == 0, "the switchover's planned stop started a failover"
    assert book.count("'event': 'failover_paused'") == 1 and book.count("'event': 'failover_unpaused'") == 1
    assert s.promotions(new) == (1, 0)  # the switchover promoted it (standby_promote), not a failover
    assert [row[1] for row in s.events(new) if row[1] == "standby_switchover"] == ["standby_switchover"]

    s.start_writer()
    node2.crash()
    s.cluster.wait_until(lambda: in_recovery(node1) is False or in_recovery(node3) is False, timeout=60,
                         what="a standby is promoted after the new primary crashed")
    promoted = s.settled_on("node1" if in_recovery(node1) is False else "node3")
    s.cluster.wait_until(lambda: len(s.named("repmgrd_failover_promote", promoted)) == 1, timeout=30,
                         what="the failover's promotion is recorded")
