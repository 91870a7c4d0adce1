"""A stand-in for automation controller's API, as far as ansible-rulebook's run_job_template uses it.

    controller = FakeController(token, [JobTemplate("pgha.repmgr failover", "playbooks/failover.yml",
                                                    inventory, credentials=[password_credential])],
                                project_dir=ROOT, workdir=tmp_path).start()
    ... ansible-rulebook --controller-url controller.url --controller-token token ...
    controller.jobs[0].argv, controller.jobs[0].status, controller.jobs[0].output()
    controller.stop()

It answers, on 127.0.0.1 only, what ansible-rulebook 1.3 asks (ansible_rulebook/job_template_runner.py
and shared_job_monitor.py): GET api/v2/config/ (at start-up), GET api/v2/unified_job_templates/?name=
(find the template: its type, organization, launch URL and ask_*_on_launch flags), POST the launch URL
with {"extra_vars": ..., "limit": ...} (201 and the job's URL), GET api/v2/jobs/?id__in=..&page_size=..
(the jobs' status until successful, failed, error or canceled); also GET api/v2/jobs/<id>/ and
api/v2/jobs/<id>/stdout/ for a person. A token is required (Authorization: Bearer), as the real API
does: anything else gets 401. Both path layouts are served: /api/v2/... (a controller URL without a
path) and /api/controller/v2/... (behind the platform gateway).

A test can break it as a real controller breaks: fail_with(401, ...) answers every request with that
status (a token revoked, an authentication backend down), fail_with(500, ..., launches_only=True)
fails only the job launches, recover() answers normally again; go_away() closes the API's port
(connection refused) and come_back() listens on the same port again. Jobs already launched go on
running meanwhile, as a controller's jobs do when its web service is down.

A launch does what the controller does with a job, minus the container: it runs
`ansible-playbook <the template's playbook> -i <the template's inventory> -e @<extra vars> --limit <limit>`
in the template's project folder. As the controller, it keeps the extra_vars and the limit only when
the template prompts for them on launch (otherwise they are ignored_fields), and it injects the
credentials attached to the template: their credential type's extra_vars injectors, rendered with
the credential's inputs, in a file of their own. Every job runs in a session of its own and is stopped
by its PID (its process group) at stop(); every wait has a timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml
from jinja2.sandbox import SandboxedEnvironment

LOOPBACK = "127.0.0.1"
ORGANIZATION = {"id": 1, "name": "Default", "description": ""}
COMPLETED = ("successful", "failed", "error", "canceled")
# /api/v2/<rest> or /api/controller/v2/<rest>
API_PATH = re.compile(r"^/api/(?:controller/)?v2/(?P<rest>.*)$")
LAUNCH_PATH = re.compile(r"job_templates/(?P<id>\d+)/launch/")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Credential:
    """A credential of a custom credential type: the type's definition file and the credential's inputs."""

    credential_type: Path
    inputs: dict

    def extra_vars(self) -> dict:
        """The type's extra_vars injectors, rendered with the inputs (sandboxed Jinja, as the controller does)."""
        definition = yaml.safe_load(Path(self.credential_type).read_text(encoding="utf-8"))
        env = SandboxedEnvironment()
        return {name: env.from_string(template).render(**self.inputs)
                for name, template in (definition.get("injectors") or {}).get("extra_vars", {}).items()}


@dataclass(frozen=True)
class Failure:
    """A broken controller's answer, `status` and {"detail": detail}: to every request, or to job launches only."""

    status: int
    detail: str
    launches_only: bool = False

    def applies_to(self, method: str, rest: str) -> bool:
        return not self.launches_only or (method == "POST" and LAUNCH_PATH.fullmatch(rest) is not None)


@dataclass
class JobTemplate:
    """A job template: a playbook of a project, an inventory, credentials, what it prompts for on launch."""

    name: str
    playbook: str
    inventory: Path
    organization: dict = field(default_factory=lambda: dict(ORGANIZATION))
    credentials: list[Credential] = field(default_factory=list)
    ask_variables_on_launch: bool = True
    ask_limit_on_launch: bool = True
    timeout: float = 300.0
    id: int = 0

    def api(self) -> dict:
        """The unified job template record, in the shape ansible-rulebook reads."""
        return {
            "id": self.id, "type": "job_template", "url": f"/api/v2/job_templates/{self.id}/", "name": self.name,
            "related": {"launch": f"/api/v2/job_templates/{self.id}/launch/"},
            "summary_fields": {"organization": dict(self.organization)},
            "organization": self.organization["id"], "playbook": self.playbook, "limit": "", "extra_vars": "---",
            "ask_variables_on_launch": self.ask_variables_on_launch, "ask_limit_on_launch": self.ask_limit_on_launch,
            "ask_inventory_on_launch": False, "ask_labels_on_launch": False, "ask_credential_on_launch": False,
            "status": "never updated",
        }


@dataclass
class Job:
    """One launch: what was asked, what ran, how it ended."""

    id: int
    template: JobTemplate
    request: dict
    extra_vars: dict
    limit: str
    ignored_fields: dict
    argv: list[str] = field(default_factory=list)
    status: str = "pending"
    rc: int | None = None
    created: str = field(default_factory=now_iso)
    started: str | None = None
    finished: str | None = None
    log: Path | None = None
    proc: subprocess.Popen | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def api(self) -> dict:
        return {
            "id": self.id, "type": "job", "url": f"/api/v2/jobs/{self.id}/", "name": self.template.name,
            "job_template": self.template.id, "unified_job_template": self.template.id, "status": self.status,
            "failed": self.status in ("failed", "error"), "created": self.created, "started": self.started,
            "finished": self.finished, "limit": self.limit, "extra_vars": json.dumps(self.extra_vars),
            "playbook": self.template.playbook, "artifacts": {}, "job_explanation": "",
            "summary_fields": {"organization": dict(self.template.organization),
                               "job_template": {"id": self.template.id, "name": self.template.name}},
        }


class FakeController:
    """The controller API of run_job_template on 127.0.0.1 (an OS-chosen port); jobs run ansible-playbook."""

    def __init__(self, token: str, templates: list[JobTemplate], project_dir: Path, workdir: Path,
                 env: dict | None = None, version: str = "4.6.0-pgha-test") -> None:
        self.token = token
        self.templates = list(templates)
        for number, template in enumerate(self.templates, start=7):
            template.id = template.id or number
        self.project_dir = Path(project_dir)
        self.workdir = Path(workdir)
        self.env = dict(os.environ, **(env or {}))
        self.version = version
        self.jobs: list[Job] = []
        self.requests: list[tuple[str, str, int]] = []   # (method, path with query, status)
        self.failure: Failure | None = None
        self._port = 0   # the OS chooses it at start(); come_back() listens on it again
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._waiters: list[threading.Thread] = []

    # -- the server ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._port, "the controller is not started"
        return f"http://{LOOPBACK}:{self._port}"

    def start(self) -> "FakeController":
        self._listen()
        return self

    def _listen(self) -> None:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # the requests are kept in controller.requests
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                controller._answer(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                controller._answer(self, "POST")

        self._server = ThreadingHTTPServer((LOOPBACK, self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="fake-controller", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def stop(self) -> None:
        """Stop the jobs that still run (by their process group), then the server."""
        for job in self.jobs:
            self._stop_job(job)
        for waiter in self._waiters:
            waiter.join(timeout=30)
        self._close()

    # -- breaking it ----------------------------------------------------------------------------

    def fail_with(self, status: int, detail: str, launches_only: bool = False) -> None:
        """From now on answer `status` (to every request, or only to job launches) until recover()."""
        self.failure = Failure(status, detail, launches_only)

    def recover(self) -> None:
        self.failure = None

    def go_away(self) -> None:
        """Close the API's port: every connection is refused. Launched jobs keep running."""
        self._close()

    def come_back(self) -> None:
        """Listen on the same port again, answering as before."""
        assert self._server is None, "the controller is still there"
        self._listen()

    def __enter__(self) -> "FakeController":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def add_template(self, template: JobTemplate) -> JobTemplate:
        """Create a job template while the controller runs (as an administrator would)."""
        with self.lock:
            template.id = template.id or 7 + len(self.templates)
            self.templates.append(template)
        return template

    # -- what the tests read ------------------------------------------------------------------

    def launched(self, template_name: str) -> list[Job]:
        with self.lock:
            return [job for job in self.jobs if job.template.name == template_name]

    def answered(self, status: int) -> list[tuple[str, str]]:
        """(method, path) of every request answered with `status`."""
        with self.lock:
            return [(method, path) for method, path, code in self.requests if code == status]

    def wait_for_jobs_done(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(job.status not in COMPLETED for job in self.jobs):
            assert time.monotonic() < deadline, "controller jobs still running after %s s: %s" % (
                timeout, [(job.id, job.status) for job in self.jobs])
            time.sleep(0.2)

    # -- the API ------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(handler.path)
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        body = None
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self._reply(handler, method, 400, {"detail": "JSON parse error"})
        match = API_PATH.match(parsed.path)
        rest = match.group("rest") if match else ""
        failure = self.failure
        if failure is not None and failure.applies_to(method, rest):
            return self._reply(handler, method, failure.status, {"detail": failure.detail})
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(handler, method, 401, {"detail": "Authentication credentials were not provided."})
        if not match:
            return self._reply(handler, method, 404, {"detail": "Not found."})
        if method == "GET" and rest == "config/":
            return self._reply(handler, method, 200, {"version": self.version, "ansible_version": "2.19"})
        if method == "GET" and rest in ("unified_job_templates/", "job_templates/"):
            with self.lock:
                found = [t.api() for t in self.templates if "name" not in query or t.name == query["name"]]
            return self._reply(handler, method, 200, self._page(found))
        launch = LAUNCH_PATH.fullmatch(rest)
        if method == "POST" and launch:
            template = next((t for t in self.templates if t.id == int(launch.group("id"))), None)
            if template is None:
                return self._reply(handler, method, 404, {"detail": "Not found."})
            job = self._launch(template, body if isinstance(body, dict) else {})
            return self._reply(handler, method, 201, dict(job.api(), job=job.id, ignored_fields=job.ignored_fields))
        if method == "GET" and rest == "jobs/":
            wanted = set((query.get("id__in") or "").split(",")) - {""}
            with self.lock:
                found = [job.api() for job in self.jobs if not wanted or str(job.id) in wanted]
            return self._reply(handler, method, 200, self._page(found))
        one = re.fullmatch(r"jobs/(\d+)/(stdout/)?", rest)
        if method == "GET" and one:
            job = next((j for j in self.jobs if j.id == int(one.group(1))), None)
            if job is None:
                return self._reply(handler, method, 404, {"detail": "Not found."})
            if one.group(2):
                return self._reply(handler, method, 200, {"content": job.output()})
            return self._reply(handler, method, 200, job.api())
        return self._reply(handler, method, 404, {"detail": "Not found."})

    @staticmethod
    def _page(results: list[dict]) -> dict:
        return {"count": len(results), "next": None, "previous": None, "results": results}

    def _reply(self, handler: BaseHTTPRequestHandler, method: str, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        with self.lock:
            self.requests.append((method, handler.path, status))
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # -- jobs ---------------------------------------------------------------------------------

    def _launch(self, template: JobTemplate, request: dict) -> Job:
        ignored = {}
        extra_vars = request.get("extra_vars") or {}
        if isinstance(extra_vars, str):  # the API also takes extra_vars as a JSON or YAML string
            extra_vars = yaml.safe_load(extra_vars) or {}
        if extra_vars and not template.ask_variables_on_launch:
            ignored["extra_vars"], extra_vars = extra_vars, {}
        limit = str(request.get("limit") or "")
        if limit and not template.ask_limit_on_launch:
            ignored["limit"], limit = limit, ""
        with self.lock:
            job = Job(id=100 + len(self.jobs) + 1, template=template, request=request, extra_vars=extra_vars,
                      limit=limit, ignored_fields=ignored)
            self.jobs.append(job)
        job_dir = self.workdir / f"job-{job.id}"
        job_dir.mkdir(parents=True, exist_ok=True)
        argv = ["ansible-playbook", template.playbook, "-i", str(template.inventory)]
        files = [("extra_vars.json", extra_vars)] + [
            (f"credential-{number}.json", credential.extra_vars())
            for number, credential in enumerate(template.credentials, start=1)]
        for name, variables in files:
            if variables:
                path = job_dir / name
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    json.dump(variables, handle)
                argv += ["-e", f"@{path}"]
        if limit:
            argv += ["--limit", limit]
        job.argv = argv
        job.log = job_dir / "stdout.txt"
        waiter = threading.Thread(target=self._run, args=(job,), name=f"job-{job.id}", daemon=True)
        self._waiters.append(waiter)
        waiter.start()
        return job

    def _run(self, job: Job) -> None:
        with open(job.log, "w") as handle:
            job.started, job.status = now_iso(), "running"
            job.proc = subprocess.Popen(job.argv, stdout=handle, stderr=subprocess.STDOUT, env=self.env,
                                        cwd=self.project_dir, start_new_session=True)
            try:
                job.rc = job.proc.wait(timeout=job.template.timeout)
            except subprocess.TimeoutExpired:
                self._stop_job(job)
                job.rc = job.proc.wait(timeout=30)
                job.finished, job.status = now_iso(), "failed"
                return
        job.finished, job.status = now_iso(), "successful" if job.rc == 0 else "failed"

    @staticmethod
    def _stop_job(job: Job) -> None:
        """SIGTERM, then SIGKILL, the job's own process group (it runs in a session of its own)."""
        if job.proc is None or job.proc.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(job.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                job.proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue
