"""make bench: what `cluster show` costs, ours beside the real repmgr 5.3, in the same run.

One 3-node cluster built with the real repmgr CLI (so both tools read the same metadata), then
for each situation (healthy, one node crashed, one node hung, two nodes hung) the median wall
time of:
  repmgr      `repmgr -f node2.conf cluster show` as a process (what a DBA types)
  ansible     `ansible node2 -m pgha.repmgr.repmgr_cluster_info` as a process
  core        cluster.read_view() in this process (what playbooks and the event source pay)
and the ratios to repmgr. repmgr connects to the nodes one after another, so each hung node
costs it a full connect_timeout (2 s here); the core probes all nodes under one deadline.
Results go to stdout and bench/results/cluster_info.json. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, subprocess.run([str(ROOT / "scripts" / "collection_path.sh")], capture_output=True, text=True,
                                  check=True).stdout.strip())

from harness import Cluster  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster as cluster_core  # noqa: E402
from ansible_collections.pgha.repmgr.plugins.module_utils import connection  # noqa: E402

RUNS = int(os.environ.get("PGHA_BENCH_RUNS", "5"))
PORT = int(os.environ.get("PGHA_BENCH_PORT", "55700"))


def median_seconds(action, runs=RUNS):
    times = []
    for _run in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(cluster, inventory, node2):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="minimal")
    ansible = [str(Path(sys.executable).parent / "ansible"), "node2", "-i", str(inventory), "-m",
               "pgha.repmgr.repmgr_cluster_info", "-a", "connect_timeout=2"]

    def core():
        with connection.connect(connection.node_conninfo(node2.conninfo, cluster.password)) as conn:
            cluster_core.read_view(conn, password=cluster.password, timeout=2)

    return dict(
        repmgr=median_seconds(lambda: cluster.repmgr(node2, "cluster", "show")),
        ansible=median_seconds(lambda: subprocess.run(ansible, env=env, capture_output=True, check=False,
                                                      timeout=120)),
        core=median_seconds(core),
    )


def main():
    results = {}
    with Cluster("bench-info", 4, port=PORT, first_octet=91) as cluster:
        cluster.build_with_repmgr()
        inventory = cluster.write_inventory(cluster.cluster_dir / "inventory.yml")
        node2, node3, node4 = cluster.nodes[1], cluster.nodes[2], cluster.nodes[3]
        results["healthy"] = measure(cluster, inventory, node2)
        node4.crash()
        results["one node down"] = measure(cluster, inventory, node2)
        node4.start()
        node4.hang(whole_server=True)
        results["one node hung"] = measure(cluster, inventory, node2)
        node3.hang(whole_server=True)
        results["two nodes hung"] = measure(cluster, inventory, node2)
        node3.resume()
        node4.resume()

    print("cluster show, 4 nodes on loopback, median of %d runs (seconds; ratio = ours / repmgr)" % RUNS)
    print("%-16s %8s %8s %8s %10s %10s" % ("situation", "repmgr", "ansible", "core", "ansible/r", "core/r"))
    for situation, row in results.items():
        row["ratio_ansible"] = round(row["ansible"] / row["repmgr"], 2)
        row["ratio_core"] = round(row["core"] / row["repmgr"], 2)
        print("%-16s %8.3f %8.3f %8.3f %10.2f %10.2f" % (situation, row["repmgr"], row["ansible"], row["core"],
                                                         row["ratio_ansible"], row["ratio_core"]))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster_info.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
