"""The automatic failover the way an EDA controller runs it: a rulebook activation and job templates.

A real cluster of PostgreSQL servers on loopback, the real ansible-rulebook running the rulebook
pgha.repmgr.failover_controller as an activation would (no inventory; its variables, and the repmgr
password injected by a credential of the collection's credential type), and, in place of automation
controller, a small HTTP service on 127.0.0.1 (fake_controller.py) that answers the API calls of
run_job_template and runs each launched job as `ansible-playbook playbooks/failover.yml` with the
extra_vars and the limit it received and the credential's injected variables. The inventory of the
jobs holds no password: only the credential gives it to the playbooks.

The checks are those of the failover scenarios (test_failover.py): exactly one node accepts writes,
no acknowledged row is lost, repmgr.events has repmgrd's rows, the monitor still runs, and no
password is in any output; and what the controller was asked to do.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import pytest
import yaml

from fake_controller import Credential, FakeController, JobTemplate
from harness import Cluster
from rulebook import Rulebook, monitor_vars
from test_failover import SYNC, Scenario, in_recovery

ROOT = Path(__file__).resolve().parents[2]
NAME = "eda-controller"
PORT = 55681
FIRST_OCTET = 91
RULEBOOK = "pgha.repmgr.failover_controller"
CREDENTIAL_TYPE = ROOT / "extensions" / "eda" / "credential_types" / "repmgr_password.yml"
FAILOVER_TEMPLATE = "pgha.repmgr failover"
FENCE_TEMPLATE = "pgha.repmgr fence"

pytestmark = pytest.mark.timeout(600)


class ControllerScenario(Scenario):
    """A failover Scenario whose monitor is an activation of the controller rulebook, with a stand-in controller."""

    # pylint: disable-next=super-init-not-called
    def __init__(self, tmp_path: Path, nodes: int = 3, sync: bool = True, **build) -> None:
        self.tmp_path = tmp_path
        self.cluster = Cluster(NAME, nodes, port=PORT, first_octet=FIRST_OCTET)
        self.cluster.prepare()
        self.cluster.build(settings=dict(SYNC) if sync else {}, **build)
        self.inventory = self.cluster.write_inventory(tmp_path / "inventory.yml")
        self.rulebooks: list[Rulebook] = []
        self.writer = None
        self.controller: FakeController | None = None
        self.token = secrets.token_hex(16)

    def credential(self) -> Credential:
        """A credential of the type extensions/eda/credential_types/repmgr_password.yml with the cluster's password."""
        return Credential(CREDENTIAL_TYPE, {"password": self.cluster.password})

    def job_inventory(self) -> Path:
        """The controller's inventory of the cluster: the harness's, without the password (the credential has it)."""
        inventory = yaml.safe_load(self.inventory.read_text())
        del inventory["all"]["vars"]["pgha_repmgr_password"]
        path = self.tmp_path / "controller-inventory.yml"
        path.write_text(yaml.safe_dump(inventory))
        return path

    def start_controller(self) -> FakeController:
        """The job templates of docs/eda-controller.md: the collection's playbooks, prompting for variables, limit."""
        inventory = self.job_inventory()
        templates = [self.failover_template(),
                     JobTemplate(FENCE_TEMPLATE, "playbooks/fence.yml", inventory, credentials=[self.credential()])]
        env = dict(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        self.controller = FakeController(self.token, templates, project_dir=ROOT,
                                         workdir=self.tmp_path / "controller", env=env).start()
        return self.controller

    def failover_template(self, name: str = FAILOVER_TEMPLATE) -> JobTemplate:
        return JobTemplate(name, "playbooks/failover.yml", self.tmp_path / "controller-inventory.yml",
                           credentials=[self.credential()])

    def activation(self, name: str = "activation", failover_template: str = FAILOVER_TEMPLATE) -> Rulebook:
        """ansible-rulebook as a rulebook activation runs it: the rulebook, its variables, its credentials."""
        assert self.controller is not None, "start the controller first"
        variables = monitor_vars(self.cluster)
        del variables["pgha_repmgr_password"]   # never an activation variable ...
        variables.update(self.credential().extra_vars())   # ... the credential injects it
        variables.update(pgha_failover_job_template=failover_template, pgha_fence_job_template=FENCE_TEMPLATE,
                         pgha_controller_organization="Default", pgha_job_limit="pgha_nodes")
        # the activation polls the jobs every second (EDA's default is 10 s)
        book = Rulebook(self.inventory, variables, self.tmp_path, name=name, rulebook=RULEBOOK,
                        env=dict(EDA_JOB_TEMPLATE_REFRESH_DELAY="1"))
        # an activation has no inventory; the controller comes from the AAP credential
        book.argv = ["ansible-rulebook", "-r", RULEBOOK, "--vars", str(book.vars_file), "--print-events",
                     "--controller-url", self.controller.url, "--controller-token", self.token]
        self.rulebooks.append(book)
        book.start()
        book.wait_for("'event': 'repmgrd_start'", 90)
        return book

    def close(self) -> None:
        for book in self.rulebooks:
            book.stop()
        if self.controller is not None:
            self.controller.stop()
        super().close()


@pytest.fixture()
def controller_scenario(tmp_path, request):
    made: list[ControllerScenario] = []

    def make(**kwargs):
        made.append(ControllerScenario(tmp_path, **kwargs))
        return made[-1]

    yield make
    report = getattr(request.node, "report_call", None)
    for item in made:
        if report is None or report.failed:
            for book in item.rulebooks:
                print(f"--- {book.log} (tail) ---\n{book.output()[-8000:]}", file=sys.stderr)
            for job in item.controller.jobs if item.controller else []:
                print(f"--- controller job {job.id} {job.argv} {job.status} ---\n{job.output()[-8000:]}",
                      file=sys.stderr)
            for node in item.nodes:
                print(f"--- {node.name} log (tail) ---\n{node.log_tail(20)}", file=sys.stderr)
        item.close()


def test_a_crashed_primary_is_failed_over_by_the_controller_job_template(controller_scenario):
    s = controller_scenario().register(priorities={2: 50})  # same WAL: node3 wins on priority
    node1, node2, node3 = s.nodes
    controller = s.start_controller()
    s.start_writer()
    book = s.activation()
    node1.crash()
    s.cluster.wait_until(lambda: s.named("repmgrd_failover_follow", node3) if in_recovery(node3) is False else False,
                         timeout=90, what="node3 is promoted by a controller job, and node2 follows it")
    new = s.settled_on("node3")  # one writable node, no acknowledged row lost, the monitor runs, no password
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert new.sql("SELECT node_id, type, upstream_node_id, active FROM repmgr.nodes ORDER BY node_id") == [
        (1, "primary", None, False), (2, "standby", 3, True), (3, "primary", None, True)]
    logged = s.events(new)
    assert (3, "repmgrd_failover_promote",
            'node "node3" (ID: 3) promoted to primary; old primary "node1" (ID: 1) marked as failed', True) in logged
    assert (2, "repmgrd_failover_follow", 'node "node2" (ID: 2) now following new upstream node "node3" (ID: 3)',
            True) in logged
    assert (1, "repmgrd_start", 'monitoring cluster primary "node1" (ID: 1)', True) in logged
    assert (1, "repmgrd_upstream_disconnect", 'unable to connect to upstream node "node1" (ID: 1)', True) in logged
    assert new.sql("SELECT term FROM repmgr.voting_term") == [(2,)]
    assert (node1.datadir / "standby.signal").exists() and not node1.is_running()
    book.wait_for("'event': 'new_primary'", 30)

    # what the controller was asked: the failover template, with the event as the playbook reads it, this
    # cluster's hosts as the limit; and the job ran the collection's playbook with them
    jobs = controller.launched(FAILOVER_TEMPLATE)
    assert jobs, f"no job of {FAILOVER_TEMPLATE!r} was launched: {controller.requests}"
    first = jobs[0]
    event = first.extra_vars["ansible_eda"]["event"]["repmgr"]
    assert (event["event"], event["node_name"]) == ("primary_failure", "node1")
    assert first.extra_vars["ansible_eda"]["ruleset"] == "Automatic failover of a repmgr cluster (EDA controller)"
    assert first.limit == "pgha_nodes" and first.ignored_fields == {}
    inventory = str(s.tmp_path / "controller-inventory.yml")
    assert first.argv[:4] == ["ansible-playbook", "playbooks/failover.yml", "-i", inventory]
    assert first.argv[-2:] == ["--limit", "pgha_nodes"]
    assert not controller.launched(FENCE_TEMPLATE)
    controller.wait_for_jobs_done(120)
    # the job that failed over: it elected node3, promoted it and printed cluster show
    done = [job for job in jobs if 'failover of node1: won: node \\"node3\\"' in job.output()]
    assert done and done[0].status == "successful", [(job.id, job.status, job.output()[-3000:]) for job in jobs]
    assert "| node3 | primary | * running |" in done[0].output()
    # ansible-rulebook found the template by name, launched it, and followed the job's status
    paths = [path for method, path, status in controller.requests if status < 400]
    assert any(path.startswith("/api/v2/unified_job_templates/?") for path in paths)
    assert any(path.startswith(f"/api/v2/jobs/?id__in={first.id}") for path in paths)
    assert all(status != 401 for _method, _path, status in controller.requests)
    # the password went by the credentials only: not in a launch request, not in a job's output
    for job in controller.jobs:
        assert s.cluster.password not in json.dumps(job.request)
        assert s.cluster.password not in job.output()


def test_a_missing_job_template_is_reported_and_the_failover_runs_once_it_exists(controller_scenario):
    """The activation names a job template the controller lacks: the action fails and says so, the monitor
    keeps running and repeats primary_failure, and once the template is created the failover goes through."""
    s = controller_scenario().register()  # same WAL, same priority: node2 wins on the lower node ID
    node1 = s.nodes[0]
    controller = s.start_controller()
    s.start_writer()
    book = s.activation(failover_template="pgha.repmgr failover main")
    node1.crash()
    book.wait_for("Job template pgha.repmgr failover main in organization Default does not exist", 60)
    assert book.alive(), "a missing job template stopped the monitor"
    assert s.cluster.writable_nodes() == [] and not controller.jobs
    controller.add_template(s.failover_template("pgha.repmgr failover main"))
    new = s.settled_on("node2", timeout=120)  # the repeated primary_failure (every 10 s) launches it
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert [job.template.name for job in controller.jobs][:1] == ["pgha.repmgr failover main"]
