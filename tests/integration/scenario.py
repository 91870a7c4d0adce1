"""A failover scenario: one cluster, its inventory, its monitors, its writer, and what a DBA checks afterwards.

    @pytest.fixture()
    def scenario(tmp_path, request):
        yield from scenarios(request, lambda **kwargs: Scenario(tmp_path, "failover", 55661, 71, **kwargs))

    def test_...(scenario):
        s = scenario().register(priorities={2: 50})
        s.start_writer()
        s.rulebook()
        s.nodes[0].crash()
        new = s.settled_on("node3")

Each test module gives its scenarios a cluster of its own (name, port, first address octet), so
that modules never share servers. Unless told otherwise the primary replicates synchronously to any
one standby (synchronous_standby_names = 'ANY 1 (*)'): an acknowledged commit is then on a standby,
and losing it would be the failover's fault.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import yaml

from ansible_cli import run_module
from harness import Cluster, Writer
from rulebook import Rulebook, monitor_vars

ROOT = Path(__file__).resolve().parents[2]
SYNC = {"synchronous_standby_names": "'ANY 1 (*)'"}
PROMOTION_EVENTS = ("standby_promote", "repmgrd_failover_promote")


def in_recovery(node):
    """True or False, or None while the node does not answer (crashed, hung, fenced)."""
    try:
        return node.in_recovery()
    except psycopg.Error:
        return None


class Scenario:
    """One cluster, its inventory, its rulebooks, its writer, and what a DBA checks afterwards."""

    def __init__(self, tmp_path: Path, name: str, port: int, first_octet: int, nodes: int = 3, sync: bool = True,
                 **build) -> None:
        self.tmp_path = tmp_path
        self.cluster = Cluster(name, nodes, port=port, first_octet=first_octet)
        self.cluster.prepare()
        settings = dict(SYNC) if sync else {}
        settings.update(build.pop("settings", {}))
        self.cluster.build(settings=settings, **build)
        self.inventory = self.cluster.write_inventory(tmp_path / "inventory.yml")
        self.rulebooks: list[Rulebook] = []
        self.writer: Writer | None = None

    @property
    def nodes(self):
        return self.cluster.nodes

    def node(self, name):
        return self.cluster.node(name)

    def register(self, locations=None, priorities=None, upstreams=None, witnesses=()):
        """repmgr_node for every node: node1 the primary, witnesses (of node1), the others standbys."""
        node1 = self.nodes[0]
        for node in self.nodes:
            role = "primary" if node is node1 else "witness" if node.node_id in witnesses else "standby"
            args = dict(role=role, node_id=node.node_id, node_name=node.name, conninfo=node.conninfo,
                        login_password=self.cluster.password, location=(locations or {}).get(node.node_id, "default"),
                        priority=(priorities or {}).get(node.node_id, 100))
            if node.node_id in (upstreams or {}):
                args["upstream_node_id"] = upstreams[node.node_id]
            if role == "witness":
                args["primary_conninfo"] = node1.conninfo
            run = run_module(self.inventory, node.name, "pgha.repmgr.repmgr_node", args)
            assert not run.failed, run.output
        return self

    def rulebook(self, name="rulebook", inventory_vars=None, verbose=False, **overrides) -> Rulebook:
        """ansible-rulebook with the monitor's --vars (`overrides`) and, for the playbooks, `inventory_vars`.

        verbose: the playbooks it runs print at -vvv (every module's arguments and results), where a
        password would show if anything let it through."""
        if inventory_vars:
            inventory = yaml.safe_load(self.inventory.read_text())
            inventory["all"]["vars"].update(inventory_vars)
            self.inventory.write_text(yaml.safe_dump(inventory))
        env = dict(PYTHONPATH=str(ROOT / "tests"), **({"ANSIBLE_VERBOSITY": "3"} if verbose else {}))
        book = Rulebook(self.inventory, monitor_vars(self.cluster, **overrides), self.tmp_path, name=name, env=env)
        self.rulebooks.append(book)
        book.start()
        book.wait_for("'event': 'repmgrd_start'", 90)
        return book

    def start_writer(self) -> Writer:
        self.writer = Writer(self.cluster).start()
        return self.writer

    # what a DBA checks

    def events(self, node=None):
        node = node or self.cluster.primaries()[0]
        return [tuple(row) for row in node.sql(
            "SELECT node_id, event, details, successful FROM repmgr.events ORDER BY event_timestamp, event")]

    def named(self, event, node=None):
        return [row for row in self.events(node) if row[1] == event]

    def settled_on(self, primary, timeout=90):
        """Exactly one node accepts writes, and it is `primary`; every acknowledged row is on it; the monitors run."""
        expected = self.node(primary)
        self.cluster.wait_until(lambda: self.cluster.writable_nodes() == [primary], timeout=timeout,
                                what=f"{primary} is the one node that accepts writes")
        if self.writer is not None:
            self.writer.stop()
            assert self.writer.lost_on(expected) == [], "acknowledged rows lost"
        for book in self.rulebooks:
            assert book.alive(), f"{book.log.name}: the monitor died:\n" + book.output()[-5000:]
            assert self.cluster.password not in book.output()
        return expected

    def promotions(self, node, expected=None):
        """(standby_promote rows, repmgrd_failover_promote rows) on `node`, once they are `expected`.

        A new primary accepts writes a moment before its metadata transaction commits: wait for
        the rows, then check that there are no more than expected.
        """
        def counts():
            return tuple(len(self.named(name, node)) for name in PROMOTION_EVENTS)

        if expected is not None and expected != (0, 0):
            self.cluster.wait_until(lambda: counts() >= expected, timeout=30, what=f"the promotion rows {expected}")
            time.sleep(1)  # a second promotion, if there were one, would be written by now
        return counts()

    # after the test

    def logs(self) -> list[tuple[str, str]]:
        """(what, the tail of its output) for the report of a failed test: the monitors', then the servers'."""
        return [(str(book.log), book.output()[-8000:]) for book in self.rulebooks] + [
            (f"{node.name} log", node.log_tail(20)) for node in self.nodes]

    def close(self):
        for book in self.rulebooks:
            book.stop()
        if self.writer is not None:
            self.writer.stop()
        self.cluster.destroy()


def scenarios(request, make: Callable[..., Scenario]) -> Iterator[Callable[..., Scenario]]:
    """The body of a scenario fixture: it yields `make`, then closes every scenario made, printing its logs
    first when the test failed (or its outcome is unknown)."""
    made: list[Scenario] = []

    def make_and_keep(**kwargs) -> Scenario:
        made.append(make(**kwargs))
        return made[-1]

    yield make_and_keep
    report = getattr(request.node, "report_call", None)
    for item in made:
        if report is None or report.failed:
            for what, tail in item.logs():
                print(f"--- {what} (tail) ---\n{tail}", file=sys.stderr)
        item.close()
