"""make bench: automatic failover time, ours beside the real repmgrd 5.3, in the same run.

Two 3-node loopback clusters with the same detection settings (monitor interval 2 s, 5
reconnect attempts 1 s apart): one run by repmgrd (failover=automatic, promote/follow through
the repmgr CLI), one by `ansible-rulebook -r pgha.repmgr.failover`. For each, N times: crash
the primary (pg_ctl -m immediate stop) and measure, polling every 0.05 s,
  promoted   seconds until a standby is out of recovery
  followed   seconds until the other standby streams from the new primary
then report the medians and the ratios ours / repmgrd. Results: stdout and
bench/results/failover.json. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, subprocess.run([str(ROOT / "scripts" / "collection_path.sh")], capture_output=True, text=True,
                                  check=True).stdout.strip())

from ansible_cli import run_module  # noqa: E402  pylint: disable=wrong-import-position
from harness import Cluster  # noqa: E402  pylint: disable=wrong-import-position

RUNS = int(os.environ.get("PGHA_BENCH_FAILOVERS", "3"))
POLL = 0.05


def new_primary(cluster, old):
    for node in cluster.nodes:
        if node is not old and node.is_running():
            try:
                if not node.in_recovery():
                    return node
            # a node that is restarting is not the new primary yet
            except Exception:  # pylint: disable=broad-except
                continue
    return None


def streams_from(standby, primary):
    try:
        return bool(primary.sql("SELECT 1 FROM pg_stat_replication WHERE application_name = %s AND state = "
                                "'streaming'", (standby.name,)))
    except Exception:  # pylint: disable=broad-except
        return False


def crash_and_time(cluster, timeout=90):
    """Crash node1; (seconds until promoted, seconds until the other standby streams from the new primary)."""
    old = cluster.nodes[0]
    old.crash()
    started = time.monotonic()
    promoted = cluster.wait_until(lambda: new_primary(cluster, old), timeout=timeout, what="a standby is promoted")
    t_promoted = time.monotonic() - started
    other = next(n for n in cluster.nodes if n not in (old, promoted))
    cluster.wait_until(lambda: streams_from(other, promoted), timeout=timeout, what="the other standby follows")
    return t_promoted, time.monotonic() - started


def repmgrd_runs():
    results = []
    for run in range(RUNS):
        with Cluster("bench-repmgrd", 3, port=55710, first_octet=95) as cluster:
            cluster.build_with_repmgr(failover="automatic")
            for node in cluster.nodes:
                cluster.start_repmgrd(node)
            cluster.wait_until(lambda: len(cluster.nodes[0].sql(
                "SELECT 1 FROM repmgr.events WHERE event = 'repmgrd_start'")) >= 3, timeout=60,
                what="repmgrd monitors on every node")
            time.sleep(2.5)  # let each standby's repmgrd finish a first monitoring cycle, as in repmgr's demo
            results.append(crash_and_time(cluster))
            print("repmgrd run %d: promoted %.2f s, followed %.2f s" % (run + 1, *results[-1]), flush=True)
    return results


def ours_runs():
    results = []
    for run in range(RUNS):
        with Cluster("bench-ours", 3, port=55720, first_octet=41) as cluster:
            cluster.build()
            inventory = cluster.write_inventory(cluster.cluster_dir / "inventory.yml")
            for node in cluster.nodes:
                role = "primary" if node.node_id == 1 else "standby"
                registered = run_module(inventory, node.name, "pgha.repmgr.repmgr_node",
                                        dict(role=role, node_id=node.node_id, node_name=node.name,
                                             conninfo=node.conninfo, login_password=cluster.password))
                assert not registered.failed, registered.output
            variables = cluster.cluster_dir / "monitor.yml"
            variables.write_text(yaml.safe_dump(dict(
                pgha_cluster_name="bench", pgha_monitor_conninfo=[n.conninfo for n in cluster.nodes],
                pgha_repmgr_password=cluster.password, pgha_monitor_interval=2, pgha_reconnect_attempts=5,
                pgha_reconnect_interval=1)))
            log = cluster.cluster_dir / "rulebook.log"
            env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
            with open(log, "w") as handle:
                proc = subprocess.Popen(["ansible-rulebook", "-r", "pgha.repmgr.failover", "-i", str(inventory),
                                         "--vars", str(variables), "--print-events"], stdout=handle,
                                        stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
                try:
                    cluster.wait_until(lambda: "repmgrd_start" in log.read_text(), timeout=90,
                                       what="the monitor started")
                    results.append(crash_and_time(cluster))
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
            print("ours    run %d: promoted %.2f s, followed %.2f s" % (run + 1, *results[-1]), flush=True)
    return results


def main():
    theirs, ours = repmgrd_runs(), ours_runs()
    summary = {}
    for label, index in (("promoted", 0), ("followed", 1)):
        repmgrd = statistics.median(r[index] for r in theirs)
        pgha = statistics.median(r[index] for r in ours)
        summary[label] = dict(repmgrd=round(repmgrd, 2), pgha=round(pgha, 2), ratio=round(pgha / repmgrd, 2))
    print("automatic failover after a crash, 3 nodes on loopback, 5 x 1 s retries, median of %d" % RUNS)
    print("%-10s %10s %10s %8s" % ("", "repmgrd", "pgha", "ratio"))
    for label, row in summary.items():
        print("%-10s %9.2fs %9.2fs %8.2f" % (label, row["repmgrd"], row["pgha"], row["ratio"]))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "failover.json").write_text(json.dumps(dict(summary=summary, repmgrd=theirs, pgha=ours), indent=2) + "\n")


if __name__ == "__main__":
    main()
