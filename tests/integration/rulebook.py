"""A real ansible-rulebook process running pgha.repmgr.failover against a test cluster.

    with Rulebook(inventory, monitor_vars(cluster), tmp_path) as rulebook:
        rulebook.wait_for("repmgrd_start", 60)
        node1.crash()
        rulebook.wait_for("repmgrd_failover_promote", 60)
    assert rulebook.alive_at_exit          # the monitor never died

It runs in its own session and is stopped by its PID (SIGTERM, then SIGKILL of what remains of
its process tree: ansible-runner starts each playbook in a session of its own).  Its whole
output is kept in <tmp_path>/<name>.log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from harness.osutil import children_of, pid_alive

ROOT = Path(__file__).resolve().parents[2]


def monitor_vars(cluster: Any, **overrides: Any) -> dict:
    """The rulebook's --vars: every node's conninfo, the password, fast retries (3 x 1 s, checks every 1 s)."""
    variables = dict(pgha_cluster_name=cluster.name, pgha_monitor_conninfo=[n.conninfo for n in cluster.nodes],
                     pgha_repmgr_password=cluster.password, pgha_monitor_interval=1, pgha_reconnect_attempts=3,
                     pgha_reconnect_interval=1)
    variables.update(overrides)
    return variables


class Rulebook:
    """ansible-rulebook -r pgha.repmgr.failover (or another rulebook), started in its own session."""

    def __init__(self, inventory: Path | None, variables: dict, tmp_path: Path, name: str = "rulebook",
                 rulebook: str = "pgha.repmgr.failover", env: dict | None = None) -> None:
        self.vars_file = tmp_path / f"{name}-vars.yml"
        self.vars_file.write_text(yaml.safe_dump(variables))
        os.chmod(self.vars_file, 0o600)
        self.log = tmp_path / f"{name}.log"
        # no inventory: as a rulebook activation runs it
        self.argv = ["ansible-rulebook", "-r", rulebook] + (["-i", str(inventory)] if inventory else []) + [
            "--vars", str(self.vars_file), "--print-events"]
        # JSON results: a message is one line, as the module wrote it (YAML would wrap and re-quote it)
        self.env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                        **(env or {}))
        self.proc: subprocess.Popen | None = None
        self.alive_at_exit: bool | None = None

    def start(self) -> "Rulebook":
        self.handle = open(self.log, "w")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(self.argv, stdout=self.handle, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT,
                                     start_new_session=True)
        return self

    def __enter__(self) -> "Rulebook":
        return self.start()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def count(self, text: str) -> int:
        return self.output().count(text)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_for(self, text: str, timeout: float, count: int = 1) -> None:
        """Wait until ``text`` appears (``count`` times) in the output; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        while self.count(text) < count:
            assert self.alive(), "ansible-rulebook ended:\n" + self.output()[-20000:]
            assert time.monotonic() < deadline, "no %r (x%d) within %s s:\n%s" % (
                text, count, timeout, self.output()[-20000:])
            time.sleep(0.1)

    def wait_ended(self, timeout: float) -> int:
        """Wait for the process to end by itself and return its exit code; fail (and stop it) if it does not."""
        assert self.proc is not None, "not started"
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("ansible-rulebook still ran after %s s:\n%s" % (timeout, self.output()[-20000:])) \
                from None

    def tree(self) -> list[int]:
        """The process and all its descendants (playbook runs live in sessions of their own)."""
        if self.proc is None:
            return []
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            if pid_alive(pid) and pid not in found:
                found.append(pid)
                todo.extend(children_of(pid))
        return found

    def kill(self) -> None:
        """SIGKILL the whole tree at once: the monitor and any playbook it runs die mid-step."""
        pids = self.tree()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pids = self.tree()
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        for pid in pids:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc.wait(30)

    def __exit__(self, *exc: Any) -> None:
        self.alive_at_exit = self.alive()
        self.stop()
        self.handle.close()
