"""Run the real `ansible` and `ansible-playbook` processes, as a user would, and read their results.

Ad-hoc runs use the `minimal` callback with JSON results (``host | STATUS => {...}``), so a test
gets the module's whole result as a dict. Playbook runs keep the default callback (what the user
sees) and parse the PLAY RECAP. Every run has a timeout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ADHOC_HEAD = re.compile(r"^(?P<host>\S+) \| (?P<status>SUCCESS|CHANGED|FAILED!|UNREACHABLE!) => ", re.MULTILINE)
_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$", re.MULTILINE)


@dataclass
class ModuleRun:
    """One `ansible HOST -m MODULE` run."""

    rc: int
    host: str
    status: str
    result: dict
    stdout: str
    stderr: str

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return self.status in ("FAILED!", "UNREACHABLE!") or bool(self.result.get("failed"))

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))

    @property
    def output(self) -> str:
        """Everything the user saw."""
        return self.stdout + self.stderr


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    recap: dict = field(default_factory=dict)  # host -> {ok, changed, failed, ...}

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def changed(self) -> int:
        return sum(counts.get("changed", 0) for counts in self.recap.values())

    def failed(self) -> int:
        return sum(counts.get("failed", 0) + counts.get("unreachable", 0) for counts in self.recap.values())


def ansible_environment(extra=None):
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "0"
    env.update(extra or {})
    return env


def run_module(inventory, host, module, args=None, *, check=False, diff=False, become=False, timeout=180,
               env=None) -> ModuleRun:
    """`ansible HOST -i INVENTORY -m MODULE -a JSON` and the host's result as a dict."""
    argv = ["ansible", host, "-i", str(inventory), "-m", module]
    if args:
        argv += ["-a", json.dumps(args)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if become:
        argv += ["--become", "--become-user", "postgres"]
    environment = ansible_environment({"ANSIBLE_STDOUT_CALLBACK": "minimal",
                                       "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", **(env or {})})
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=environment, cwd=ROOT,
                          check=False)
    match = _ADHOC_HEAD.search(proc.stdout)
    if not match:
        raise AssertionError("no result line from ansible (rc %s)\nstdout:\n%s\nstderr:\n%s"
                             % (proc.returncode, proc.stdout, proc.stderr))
    result, _end = json.JSONDecoder().raw_decode(proc.stdout, match.end())
    return ModuleRun(proc.returncode, match.group("host"), match.group("status"), result, proc.stdout, proc.stderr)


def run_playbook(playbook, inventory, extra_vars=None, *, check=False, diff=False, timeout=900, env=None,
                 limit=None) -> PlaybookRun:
    """`ansible-playbook PLAYBOOK -i INVENTORY` as a user runs it (playbook may be an FQCN)."""
    argv = ["ansible-playbook", str(playbook), "-i", str(inventory)]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if limit:
        argv += ["--limit", limit]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ansible_environment(env), cwd=ROOT,
                          check=False)
    recap = {}
    tail = proc.stdout.rsplit("PLAY RECAP", 1)[-1] if "PLAY RECAP" in proc.stdout else ""
    for line in _RECAP_LINE.finditer(tail):
        recap[line.group("host")] = {k: int(v) for k, v in (c.split("=") for c in line.group("counts").split())}
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, recap)
