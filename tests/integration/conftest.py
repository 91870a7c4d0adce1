"""What a DBA runs from the console against a test cluster, shared by test_provision and test_interop_repmgr.

    console = Console(cluster, inventory)
    console.provision()                  # ansible-playbook pgha.repmgr.provision -i inventory
    console.cluster_info(node2)          # ansible node2 -m pgha.repmgr.repmgr_cluster_info -> result dict
    console.repmgr_cluster_show(node2)   # the real repmgr 5.3: repmgr -f <node2's repmgr.conf> cluster show
    console.repmgr_cluster_event(node2)  # ... cluster event --all

Every run's whole output (stdout and stderr) is checked for the cluster's password. The repmgr CLI
reads <node dir>/repmgr.conf: the harness writes it for build_with_repmgr(), the repmgr_node role
writes it there for provisioned clusters (pgha_repmgr_conf_file's default for local test hosts).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ansible_cli import ModuleRun, PlaybookRun, run_module, run_playbook
from harness import Cluster, Node


def cells(line: str) -> list[str]:
    """The cells of one repmgr table line: split on '|', drop the one padding space, keep leading spaces.

    repmgr prints a standby's Status as "  running": the two leading spaces are part of the value.
    """
    return [cell[1:].rstrip() if cell.startswith(" ") else cell.rstrip() for cell in line.split("|")]


def table_lines(stdout: str) -> list[str]:
    """The table repmgr printed: every line up to the first blank one."""
    lines = stdout.split("\n")
    return lines[: lines.index("")] if "" in lines else lines


@dataclass
class CliTable:
    """One run of a repmgr table command: its exit code, table lines, rows by column title, warnings."""

    rc: int
    stdout: str
    stderr: str

    @property
    def table(self) -> list[str]:
        return table_lines(self.stdout)

    @property
    def rows(self) -> list[dict[str, str]]:
        titles = [title.strip() for title in cells(self.table[0])]
        return [dict(zip(titles, cells(line))) for line in self.table[2:]]

    @property
    def warnings(self) -> list[str]:
        """The "  - ..." lines under "WARNING: following issues were detected"."""
        return [line[4:] for line in (self.stdout + self.stderr).splitlines() if line.startswith("  - ")]

    def row(self, node_name: str) -> dict[str, str]:
        return next(row for row in self.rows if row["Name"] == node_name)

    def event_rows(self) -> list[tuple[str, ...]]:
        """``cluster event`` rows, sorted: events written in one second have no order."""
        return sorted(tuple(row.values()) for row in self.rows)


class Console:
    """The commands a DBA types against one cluster, each a real process."""

    def __init__(self, cluster: Cluster, inventory: Path) -> None:
        self.cluster = cluster
        self.inventory = inventory

    def _no_password(self, output: str, what: str) -> None:
        assert self.cluster.password not in output, f"the repmgr password appears in the output of {what}"

    def provision(self, *, check: bool = False, diff: bool = False, env: dict | None = None,
                  extra_vars: dict | None = None, limit: str | None = None) -> PlaybookRun:
        """ansible-playbook pgha.repmgr.provision -i <inventory> [--check] [--diff] [-e extra_vars] [--limit]."""
        run = run_playbook("pgha.repmgr.provision", self.inventory, extra_vars, check=check, diff=diff, env=env,
                           limit=limit)
        self._no_password(run.output, "ansible-playbook pgha.repmgr.provision")
        return run

    def module(self, node: Node, module: str, args: dict, *, check: bool = False, diff: bool = False) -> ModuleRun:
        """ansible <node> -m pgha.repmgr.<module> -a <args>."""
        run = run_module(self.inventory, node.name, f"pgha.repmgr.{module}", args, check=check, diff=diff)
        self._no_password(run.output, f"ansible {node.name} -m {module}")
        return run

    def cluster_info(self, node: Node, **args) -> dict:
        """repmgr_cluster_info connected to ``node`` (with the repmgr password); its result."""
        run = self.module(node, "repmgr_cluster_info", dict(
            login_host=node.address, login_port=node.port, login_password=self.cluster.password, **args))
        assert not run.failed and run.rc == 0, run.output
        assert run.changed is False
        return run.result

    def repmgr_cluster_show(self, node: Node) -> CliTable:
        """repmgr -f <node's repmgr.conf> cluster show, as postgres with PGPASSFILE = the cluster's passfile."""
        rc, stdout, stderr = self.cluster.repmgr(node, "cluster", "show")
        self._no_password(stdout + stderr, "repmgr cluster show")
        return CliTable(rc, stdout, stderr)

    @staticmethod
    def printed_events(events: list[dict]) -> list[tuple[str, ...]]:
        """repmgr_cluster_info's ``events`` as ``cluster event`` prints them, sorted like CliTable.event_rows()."""
        return sorted(
            (str(e["node_id"]), e["node_name"], e["event"], "t" if e["successful"] else "f", e["timestamp"],
             e["details"] or "")
            for e in events
        )

    def repmgr_cluster_event(self, node: Node) -> CliTable:
        """repmgr -f <node's repmgr.conf> cluster event --all."""
        rc, stdout, stderr = self.cluster.repmgr(node, "cluster", "event", "--all")
        assert rc == 0, stdout + stderr
        return CliTable(rc, stdout, stderr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (item.report_call): fixtures print logs only for failures."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, "report_" + report.when, report)


@pytest.fixture(scope="session")
def console_for():
    """Console(cluster, inventory) for a test module's cluster."""
    return Console
