"""make bench: automatic failover, ours beside the real repmgrd 5.3, in the same run, runs interleaved.

Two 3-node loopback clusters built the same way, with the same detection settings (monitor
interval 2 s): one watched by repmgrd (failover=automatic; its own repmgr standby promote / follow
commands), one by `ansible-rulebook -r pgha.repmgr.failover`. The primary replicates
synchronously to any one standby, and a writer commits a row every 10 ms throughout.

Each run waits a random phase of the monitor interval, then kills the primary
(`pg_ctl -m immediate stop`, or SIGSTOP of the postmaster and every child: a hang), and measures,
polling every 50 ms:
  declared   seconds until the monitor declared the primary failed (repmgrd's "unable to
             reconnect ... after N attempts" log line; the source's `primary_lost` event)
  write      seconds until a standby accepts an INSERT
  follow     seconds until the other standby streams from the new primary
  lost       acknowledged rows of the writer missing on the new primary
  writers    for a hang: how many nodes accept writes once the old primary is resumed
Medians, ratios ours / repmgrd, and every raw number go to stdout, bench/results/failover.json
and bench/results/failover.md (docs/benchmarks.md quotes it). Nothing here is a pass/fail test.

PGHA_BENCH_RUNS (default 5) sets the runs of the short scenarios; PGHA_BENCH_ONLY=crash-5x1
runs one scenario.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, subprocess.run([str(ROOT / "scripts" / "collection_path.sh")], capture_output=True, text=True,
                                  check=True).stdout.strip())

from ansible_cli import run_module  # noqa: E402  pylint: disable=wrong-import-position
from harness import Cluster, Writer  # noqa: E402  pylint: disable=wrong-import-position

RUNS = int(os.environ.get("PGHA_BENCH_RUNS", "5"))
MONITOR_INTERVAL = 2
POLL = 0.05
SYNC = {"synchronous_standby_names": "'ANY 1 (*)'"}
# (name, failure, reconnect_attempts, reconnect_interval, runs)
SCENARIOS = [
    ("crash-5x1", "crash", 5, 1, RUNS),
    ("crash-2x1", "crash", 2, 1, RUNS),
    ("crash-6x10", "crash", 6, 10, 1),
    ("hang-5x1", "hang", 5, 1, RUNS),
]
REPMGRD_DECLARED = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] \[WARNING\] unable to reconnect to node .* after "
                              r"\d+ attempts", re.M)


# -- the two setups -------------------------------------------------------------------------------

class Repmgrd:
    label = "repmgrd"

    def __init__(self, attempts, interval):
        self.attempts, self.interval = attempts, interval
        self.cluster = Cluster("bench-repmgrd", 3, port=55710, first_octet=95)

    def start(self):
        self.cluster.prepare()
        self.cluster.build_with_repmgr(failover="automatic", repmgr_settings=dict(
            reconnect_attempts=self.attempts, reconnect_interval=self.interval,
            monitor_interval_secs=MONITOR_INTERVAL), settings=SYNC)
        for node in self.cluster.nodes:
            self.cluster.start_repmgrd(node)
        self.cluster.wait_until(lambda: len(self.cluster.nodes[0].sql(
            "SELECT 1 FROM repmgr.events WHERE event = 'repmgrd_start'")) >= 3, timeout=60,
            what="repmgrd monitors on every node")
        time.sleep(MONITOR_INTERVAL + 0.5)  # every standby's repmgrd has finished a monitoring cycle

    def declared(self, since_wall):
        stamps = []
        for node in self.cluster.nodes[1:]:
            log = node.node_dir / "repmgr.log"
            if log.exists():
                for match in REPMGRD_DECLARED.finditer(log.read_text(errors="replace")):
                    stamps.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").timestamp())
        return round(min(stamps) - since_wall, 2) if stamps else None  # whole seconds: repmgrd's log precision

    def stop(self):
        self.cluster.destroy()


class Ours:
    label = "pgha"

    def __init__(self, attempts, interval):
        self.attempts, self.interval = attempts, interval
        self.cluster = Cluster("bench-ours", 3, port=55720, first_octet=41)
        self.proc = self.log = None

    def start(self):
        cluster = self.cluster
        cluster.prepare()
        cluster.build(settings=SYNC)
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
            pgha_repmgr_password=cluster.password, pgha_monitor_interval=MONITOR_INTERVAL,
            pgha_reconnect_attempts=self.attempts, pgha_reconnect_interval=self.interval)))
        self.log = cluster.cluster_dir / "rulebook.log"
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        with open(self.log, "w") as handle:
            self.proc = subprocess.Popen(["ansible-rulebook", "-r", "pgha.repmgr.failover", "-i", str(inventory),
                                          "--vars", str(variables), "--print-events"], stdout=handle,
                                         stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        cluster.wait_until(lambda: "'event': 'repmgrd_start'" in self.log.read_text(), timeout=90,
                           what="the monitor started")
        time.sleep(MONITOR_INTERVAL + 0.5)

    def declared(self, since_wall):
        text = self.log.read_text(errors="replace")
        for block in text.split("** ")[1:]:
            if "'event': 'primary_lost'" in block:
                stamp = re.search(r"'received_at': '([^']+)'", block)
                if stamp:
                    when = datetime.fromisoformat(stamp.group(1).replace("Z", "+00:00")).timestamp()
                    return round(when - since_wall, 2)
        return None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.cluster.destroy()


# -- one run ------------------------------------------------------------------------------------

def accepts_write(node):
    try:
        return node.accepts_write()
    except Exception:  # pylint: disable=broad-except
        return False


def streams_from(standby, primary):
    try:
        return bool(primary.sql("SELECT 1 FROM pg_stat_replication WHERE application_name = %s AND state = "
                                "'streaming'", (standby.name,)))
    except Exception:  # pylint: disable=broad-except
        return False


def one_run(setup, failure):
    setup.start()
    cluster = setup.cluster
    old = cluster.nodes[0]
    try:
        writer = Writer(cluster).start()
        time.sleep(random.uniform(0, MONITOR_INTERVAL))  # a random phase of the monitor's checks
        killed_wall, killed = time.time(), time.monotonic()
        if failure == "crash":
            old.crash()
        else:
            old.hang(whole_server=True)
        new = None
        deadline = killed + 300
        while new is None and time.monotonic() < deadline:
            new = next((n for n in cluster.nodes[1:] if accepts_write(n)), None)
            if new is None:
                time.sleep(POLL)
        assert new is not None, "no standby accepted a write within 300 s"
        t_write = time.monotonic() - killed
        other = next(n for n in cluster.nodes[1:] if n is not new)
        while not streams_from(other, new) and time.monotonic() < deadline:
            time.sleep(POLL)
        t_follow = time.monotonic() - killed
        writers = None
        if failure == "hang":
            old.resume()
            time.sleep(3)
            writers = len(cluster.writable_nodes())
        writer.stop()
        return dict(declared=setup.declared(killed_wall), write=round(t_write, 2), follow=round(t_follow, 2),
                    lost=len(writer.lost_on(new)), writers=writers)
    finally:
        old.resume()
        setup.stop()


# -- the report ---------------------------------------------------------------------------------

def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


def summarize(results):
    table = []
    for name, failure, attempts, interval, _runs in SCENARIOS:
        if name not in results:
            continue
        runs = results[name]
        row = dict(scenario=name, window=(attempts - 1) * interval)
        for key in ("declared", "write", "follow"):
            theirs, ours = median(r[key] for r in runs["repmgrd"]), median(r[key] for r in runs["pgha"])
            row[key] = dict(repmgrd=theirs, pgha=ours, ratio=round(ours / theirs, 2) if theirs and ours else None)
        row["lost"] = dict(repmgrd=max(r["lost"] for r in runs["repmgrd"]), pgha=max(r["lost"] for r in runs["pgha"]))
        if failure == "hang":
            row["writers"] = dict(repmgrd=max(r["writers"] for r in runs["repmgrd"]),
                                  pgha=max(r["writers"] for r in runs["pgha"]))
        row["promotion_after_window"] = max(r["write"] for r in runs["pgha"]) - (attempts - 1) * interval
        table.append(row)
    return table


# The goals this benchmark reports on (never asserted: a slow machine makes them a note, not a failure).
TARGETS = (
    ("crash-5x1", "first write accepted <= 0.85 x repmgrd's", lambda row: row["write"]["ratio"], 0.85),
    ("crash-5x1", "the other standby streams <= 0.65 x repmgrd's", lambda row: row["follow"]["ratio"], 0.65),
    ("crash-5x1", "promoted within 0.2 s after (attempts - 1) x interval, every run",
     lambda row: round(row["promotion_after_window"], 2), 0.2),
    ("hang-5x1", "first write accepted <= 0.6 x repmgrd's", lambda row: row["write"]["ratio"], 0.6),
    ("hang-5x1", "nodes accepting writes after the resume <= 1", lambda row: row["writers"]["pgha"], 1),
)


def targets(table):
    """[(scenario, goal, value, met)] for the scenarios that ran."""
    rows = {row["scenario"]: row for row in table}
    found = []
    for scenario, goal, value_of, limit in TARGETS:
        if scenario in rows:
            value = value_of(rows[scenario])
            found.append((scenario, goal, value, value is not None and value <= limit))
    lost = max([row["lost"]["pgha"] for row in table] or [0])
    found.append(("all", "0 acknowledged rows lost in every run", lost, lost == 0))
    return found


def markdown(table, results):
    lines = ["| scenario | seconds after the kill (median) | repmgrd 5.3 | pgha.repmgr | ratio |",
             "| --- | --- | --- | --- | --- |"]
    for row in table:
        for key, label in (("declared", "failure declared"), ("write", "first write accepted on the new primary"),
                           ("follow", "the other standby streams from it")):
            cell = row[key]
            lines.append("| %s | %s | %s | %s | %s |" % (
                row["scenario"], label, cell["repmgrd"], cell["pgha"], cell["ratio"]))
        lines.append("| %s | acknowledged rows lost (worst run) | %s | %s | |" % (
            row["scenario"], row["lost"]["repmgrd"], row["lost"]["pgha"]))
        if "writers" in row:
            lines.append("| %s | nodes accepting writes after the resume (worst run) | %s | %s | |" % (
                row["scenario"], row["writers"]["repmgrd"], row["writers"]["pgha"]))
    lines += ["", "| scenario | goal | value | met |", "| --- | --- | --- | --- |"]
    for scenario, goal, value, met in targets(table):
        lines.append("| %s | %s | %s | %s |" % (scenario, goal, value, "yes" if met else "NO"))
    lines.append("")
    lines.append("Raw runs (seconds after the kill): " + json.dumps(results))
    return "\n".join(lines) + "\n"


def report_again():
    """--report: the table again from bench/results/failover.json, without running anything."""
    saved = json.loads((ROOT / "bench" / "results" / "failover.json").read_text())
    report = markdown(summarize(saved["runs"]), saved["runs"])
    (ROOT / "bench" / "results" / "failover.md").write_text(report)
    print(report)


def main():
    if "--report" in sys.argv[1:]:
        report_again()
        return
    only = os.environ.get("PGHA_BENCH_ONLY")
    results = {}
    for name, failure, attempts, interval, runs in SCENARIOS:
        if only and name != only:
            continue
        results[name] = {"repmgrd": [], "pgha": []}
        for run in range(runs):
            for setup_class in (Repmgrd, Ours):  # interleaved: the machine's state drifts equally for both
                setup = setup_class(attempts, interval)
                outcome = one_run(setup, failure)
                results[name][setup.label].append(outcome)
                print("%-10s run %d %-8s %s" % (name, run + 1, setup.label, outcome), flush=True)
    table = summarize(results)
    report = markdown(table, results)
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "failover.json").write_text(json.dumps(dict(summary=table, runs=results), indent=2) + "\n")
    (out / "failover.md").write_text(report)


if __name__ == "__main__":
    main()
