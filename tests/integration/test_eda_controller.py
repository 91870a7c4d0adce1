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

Then the controller fails as real ones do (docs/eda-controller.md, "When the controller fails"): it
lacks the job template, refuses the token, fails the launch, closes its port; and activations that
cannot start (a wrong token or URL, a variable of the wrong type), which need no cluster.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from fake_controller import Credential, FakeController, JobTemplate
from rulebook import Rulebook, monitor_vars
from scenario import Scenario, in_recovery, scenarios

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

    def __init__(self, tmp_path: Path, **kwargs) -> None:
        super().__init__(tmp_path, NAME, PORT, FIRST_OCTET, **kwargs)
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

    def activation(self, name: str = "activation", failover_template: str = FAILOVER_TEMPLATE,
                   options: tuple[str, ...] = ()) -> Rulebook:
        """The activation of this cluster's monitor, once the monitor has started."""
        assert self.controller is not None, "start the controller first"
        variables = monitor_vars(self.cluster)
        del variables["pgha_repmgr_password"]   # never an activation variable ...
        variables.update(self.credential().extra_vars())   # ... the credential injects it
        variables.update(pgha_failover_job_template=failover_template, pgha_fence_job_template=FENCE_TEMPLATE,
                         pgha_controller_organization="Default", pgha_job_limit="pgha_nodes")
        book = start_activation(self.tmp_path, variables, self.controller.url, self.token, name=name, options=options)
        self.rulebooks.append(book)
        book.wait_for("'event': 'repmgrd_start'", 90)
        return book

    def logs(self) -> list[tuple[str, str]]:
        jobs = self.controller.jobs if self.controller else []
        return super().logs() + [(f"controller job {job.id} {job.argv} {job.status}", job.output()[-8000:])
                                 for job in jobs]

    def close(self) -> None:
        for book in self.rulebooks:
            book.stop()
        if self.controller is not None:
            self.controller.stop()
        super().close()


def start_activation(tmp_path: Path, variables: dict, controller_url: str, token: str, name: str = "activation",
                     options: tuple[str, ...] = ()) -> Rulebook:
    """ansible-rulebook as a rulebook activation runs it: the rulebook, its variables (credentials injected), the
    controller of the AAP credential, no inventory; `options`: more ansible-rulebook options."""
    # the activation polls the jobs every second (EDA's default is 10 s)
    book = Rulebook(None, variables, tmp_path, name=name, rulebook=RULEBOOK,
                    env=dict(EDA_JOB_TEMPLATE_REFRESH_DELAY="1"))
    book.argv += ["--controller-url", controller_url, "--controller-token", token, *options]
    return book.start()


@pytest.fixture()
def controller_scenario(tmp_path, request):
    yield from scenarios(request, lambda **kwargs: ControllerScenario(tmp_path, **kwargs))


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


# -- when the controller fails (issue 9): what ansible-rulebook does, and that the monitor goes on ------------

def test_a_refused_token_or_a_failed_launch_is_reported_and_the_failover_runs_once_the_controller_answers(
        controller_scenario):
    """The controller refuses the token (401), then fails the launch (500): each primary_failure's action fails at
    once, without a retry, and the activation's output has what the controller answered; nothing is launched or
    promoted, and the monitor goes on repeating primary_failure. Once the controller answers, the next one fails
    over."""
    s = controller_scenario().register()  # same WAL, same priority: node2 wins on the lower node ID
    node1, node2, node3 = s.nodes
    controller = s.start_controller()
    s.start_writer()
    book = s.activation()
    controller.fail_with(401, "Invalid token.")  # after the start: the activation checks its token when it starts
    node1.crash()
    book.wait_for(f"401, message='Unauthorized', url='{controller.url}/api/v2/unified_job_templates/?name=", 60)
    assert len(controller.answered(401)) == 1, "the 401 was retried"
    controller.fail_with(500, "The job could not be launched.", launches_only=True)
    book.wait_for(f"500, message='Internal Server Error', url='{controller.url}/api/v2/job_templates/7/launch/'", 30)
    book.wait_for("Error: {'detail': 'The job could not be launched.'}", 5)  # the controller's own words
    assert len(controller.answered(500)) == 1, "the failed launch was retried"
    assert not controller.jobs and s.cluster.writable_nodes() == []
    assert in_recovery(node2) is True and in_recovery(node3) is True, "a node was promoted without a job"
    controller.recover()
    new = s.settled_on("node2", timeout=60)  # the next primary_failure (every 10 s) launches the failover
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert book.count("'event': 'primary_failure'") >= 3


def received_at(output: str, text: str) -> datetime:
    """When ansible-rulebook received the first event whose printout holds `text` (the banner of --print-events)."""
    banner = output.rfind("\n** ", 0, output.index(text)) + len("\n** ")
    return datetime.strptime(output[banner:banner + 26], "%Y-%m-%d %H:%M:%S.%f")


def logged_at(output: str, text: str) -> datetime:
    """When ansible-rulebook logged the first line that holds `text`."""
    line = next(line for line in output.splitlines() if text in line)
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def test_a_controller_that_goes_away_is_reported_and_a_launched_failover_completes_without_it(controller_scenario):
    """The controller's port closes: the next primary_failure's action fails once ansible-rulebook's retries are
    spent, saying it cannot connect, and nothing is promoted. The controller comes back, the next primary_failure
    launches the failover, and the port closes again while that job runs: the job fails over all the same, the
    activation reports each failed poll of the job and the monitor goes on; back again, the controller is asked
    for the job and its end is seen."""
    s = controller_scenario().register()
    node1, node2, node3 = s.nodes
    controller = s.start_controller()
    s.start_writer()
    # 2 attempts, 4 s apart: ansible-rulebook's 5 (pauses of 4, 8, 16, 32 s) take the same path a minute longer
    book = s.activation(options=("--controller-retry-attempts", "2"))
    refused = f"Cannot connect to host {controller.url.removeprefix('http://')}"
    controller.go_away()
    node1.crash()
    book.wait_for(f"Error connecting to controller: {refused}", 30)
    output = book.output()
    waited = logged_at(output, "Error connecting to controller") - received_at(output, "'event': 'primary_failure'")
    assert waited.total_seconds() > 3.5, f"the refused connection was not retried 4 s later ({waited})"
    assert s.cluster.writable_nodes() == [] and in_recovery(node2) is True and in_recovery(node3) is True
    controller.come_back()
    s.cluster.wait_until(lambda: controller.jobs, timeout=30, what="the next primary_failure launches the failover")
    controller.go_away()
    book.wait_for(f"Transient error in shared job monitor loop: {refused}", 30)
    new = s.settled_on("node2")  # the job failed over while the controller's API was down; the monitor runs
    book.wait_for("'event': 'new_primary'", 30)
    controller.wait_for_jobs_done(60)
    job = controller.jobs[0]
    asked = len(controller.requests)
    controller.come_back()
    s.cluster.wait_until(lambda: any(path.startswith(f"/api/v2/jobs/?id__in={job.id}") and status == 200
                                     for _method, path, status in controller.requests[asked:]),
                         timeout=30, what="the activation asks for the job again")
    assert job.status == "successful", job.output()[-3000:]
    assert s.promotions(new, (1, 1)) == (1, 1)


# -- an activation that cannot start: no cluster needed, it ends before it would reach one ---------------------

UNREACHED_CONNINFO = f"host=127.0.0.{FIRST_OCTET} port={PORT} user=repmgr dbname=repmgr"


@pytest.fixture()
def controller(tmp_path):
    with FakeController(secrets.token_hex(16), [], project_dir=ROOT, workdir=tmp_path / "controller") as running:
        yield running


@pytest.mark.parametrize("wrong, answer", [
    ("token", "401, message='Unauthorized', url='{url}/api/v2/config/'"),
    ("url", "404, message='Not Found', url='{url}/aap/v2/config/'"),
], ids=["token", "url"])
def test_an_activation_with_a_wrong_controller_token_or_url_ends_at_start_saying_what_the_controller_answered(
        controller, tmp_path, wrong, answer):
    url, token = (controller.url, "not-the-token") if wrong == "token" else (controller.url + "/aap/", controller.token)
    book = start_activation(tmp_path, dict(pgha_monitor_conninfo=[UNREACHED_CONNINFO]), url, token)
    assert book.wait_ended(60) == 1
    assert "Terminating: " + answer.format(url=controller.url) in book.output()
    assert "'event'" not in book.output(), "the monitor started"


@pytest.mark.parametrize("variable, value, problem", [
    ("pgha_monitor_interval", "soon", "monitor_interval must be a number of seconds (got 'soon')"),
    ("pgha_event_notification_command", ["/usr/local/bin/page-dba", "%e"],
     "event_notification_command must be a string (got ['/usr/local/bin/page-dba', '%e'])"),
], ids=["word-for-a-number", "list-for-a-string"])
def test_a_rulebook_variable_of_the_wrong_type_ends_the_activation_at_start_naming_it(
        controller, tmp_path, variable, value, problem):
    variables = {"pgha_monitor_conninfo": [UNREACHED_CONNINFO], variable: value}
    book = start_activation(tmp_path, variables, controller.url, controller.token)
    assert book.wait_ended(60) == 1
    output = book.output()
    assert f"Source error: InvalidOption: Source plugin failed with error message: '{problem}'" in output
    assert "Terminating: One of the source plugins failed" in output
    assert "Traceback" not in output and "'event'" not in output
