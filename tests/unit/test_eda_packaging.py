"""How the collection is packaged for Event-Driven Ansible, checked on the files and with the real tools.

- the rulebooks are in extensions/eda/rulebooks/ (where ansible-rulebook and an EDA controller project
  import look), ansible-rulebook's own lookup finds them, and they pass its rulebook schema;
- the controller rulebook is the CLI rulebook with run_job_template for run_playbook: same source,
  same rules, the event passed as the playbooks read it, the limit, the job template names as variables;
- the credential type injects the password under the name the rulebooks and playbooks read;
- requirements.txt (what ansible-builder reads from the collection) pins nothing, and names neither
  ansible-core nor ansible-rulebook; the pinned development set is requirements-test.txt + constraints.txt;
- the real ansible-builder makes a build context of decision-environment.yml and of the job templates'
  execution environment (docs/eda-controller.md), and its introspection of the built collection finds
  psycopg and jmespath through meta/execution-environment.yml. No image is built.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
EDA_RULEBOOKS = ROOT / "extensions" / "eda" / "rulebooks"
CREDENTIAL_TYPE = ROOT / "extensions" / "eda" / "credential_types" / "repmgr_password.yml"
CLI, CONTROLLER = "failover", "failover_controller"
# run_playbook's playbook -> the variable and default name of the job template that runs it
JOB_TEMPLATES = {
    "pgha.repmgr.failover": ("pgha_failover_job_template", "pgha.repmgr failover"),
    "pgha.repmgr.fence": ("pgha_fence_job_template", "pgha.repmgr fence"),
}
NOT_FROM_THE_COLLECTION = {"ansible", "ansible-core", "ansible-base", "ansible-rulebook"}


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def rulebook(name: str) -> list:
    return load_yaml(EDA_RULEBOOKS / f"{name}.yml")


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.split("#", 1)[0].strip()]


def galaxy_version() -> str:
    return str(load_yaml(ROOT / "galaxy.yml")["version"])


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH (make bootstrap installs it)"
    return path


def run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, argv))} failed ({result.returncode}):\n" \
                                   f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    return result


# -- where the rulebooks are ------------------------------------------------------------------------


def test_the_rulebooks_are_in_extensions_eda_rulebooks_and_nowhere_else_in_another_version():
    names = sorted(path.name for path in EDA_RULEBOOKS.glob("*.yml"))
    assert names == ["failover.yml", "failover_controller.yml"]
    # ansible-rulebook 1.3 also looks in rulebooks/: a copy there must never drift from the real one
    for legacy in sorted((ROOT / "rulebooks").glob("*.y*ml")):
        assert legacy.name in names, f"{legacy} is a rulebook outside extensions/eda/rulebooks/"
        assert legacy.read_bytes() == (EDA_RULEBOOKS / legacy.name).read_bytes(), \
            f"{legacy} differs from extensions/eda/rulebooks/{legacy.name}: keep one source"


@pytest.mark.parametrize("name", [CLI, CONTROLLER])
def test_ansible_rulebook_finds_the_rulebook_by_its_collection_name(name):
    from ansible_rulebook import collection  # pylint: disable=import-outside-toplevel

    assert collection.has_rulebook("pgha.repmgr", name), f"ansible-rulebook does not find pgha.repmgr.{name}"
    _vaulted, data = collection.load_rulebook("pgha.repmgr", name)
    assert data == rulebook(name), f"pgha.repmgr.{name} resolves to another file than {EDA_RULEBOOKS}/{name}.yml"


@pytest.mark.parametrize("name", [CLI, CONTROLLER])
def test_the_rulebook_passes_ansible_rulebooks_schema(name):
    from ansible_rulebook.validators import Validate  # pylint: disable=import-outside-toplevel

    Validate.rulebook(rulebook(name))


# -- the controller rulebook mirrors the CLI rulebook ------------------------------------------------


def test_the_controller_rulebook_has_the_cli_rulebooks_source_and_rules():
    (cli,), (controller,) = rulebook(CLI), rulebook(CONTROLLER)
    assert controller["sources"] == cli["sources"]
    assert [(rule["name"], rule["condition"]) for rule in controller["rules"]] == \
           [(rule["name"], rule["condition"]) for rule in cli["rules"]]


def test_each_run_playbook_becomes_run_job_template_with_the_event_and_the_limit():
    (cli,), (controller,) = rulebook(CLI), rulebook(CONTROLLER)
    for cli_rule, controller_rule in zip(cli["rules"], controller["rules"]):
        playbook = (cli_rule["action"].get("run_playbook") or {}).get("name")
        if playbook is None:
            assert controller_rule["action"] == cli_rule["action"], cli_rule["name"]
            continue
        assert "run_playbook" not in str(controller_rule), "a controller runs no playbook itself"
        job = controller_rule["action"]["run_job_template"]
        variable, default = JOB_TEMPLATES[playbook]
        assert job["name"] == f"{{{{ {variable} | default('{default}') }}}}", cli_rule["name"]
        assert job["organization"] == "{{ pgha_controller_organization | default('Default') }}"
        assert job["include_events"] is True, "the playbooks read the event as ansible_eda.event"
        assert job["job_args"] == {"limit": "{{ pgha_job_limit | default('pgha_nodes') }}"}


def test_the_job_arguments_render_to_the_defaults_and_to_the_activations_variables():
    """ansible-rulebook's own rendering of an action's arguments, and its extra_vars for a job."""
    from ansible_rulebook.action.control import Control  # pylint: disable=import-outside-toplevel
    from ansible_rulebook.action.helper import Helper  # pylint: disable=import-outside-toplevel
    from ansible_rulebook.action.metadata import Metadata  # pylint: disable=import-outside-toplevel
    from ansible_rulebook.util import substitute_variables  # pylint: disable=import-outside-toplevel

    (controller,) = rulebook(CONTROLLER)
    job = controller["rules"][0]["action"]["run_job_template"]
    event = {"repmgr": {"event": "primary_failure", "node_name": "node1", "decide_at": 1700000000.5}}
    rendered = {key: substitute_variables(value, {"event": event}) for key, value in job.items()}
    assert (rendered["name"], rendered["organization"], rendered["job_args"]) == (
        "pgha.repmgr failover", "Default", {"limit": "pgha_nodes"})
    chosen = {"event": event, "pgha_failover_job_template": "db failover", "pgha_controller_organization": "DBA",
              "pgha_job_limit": "cluster_main"}
    rendered = {key: substitute_variables(value, chosen) for key, value in job.items()}
    assert (rendered["name"], rendered["organization"], rendered["job_args"]) == (
        "db failover", "DBA", {"limit": "cluster_main"})
    # what run_job_template (and run_playbook) send as extra_vars: the event under ansible_eda
    metadata = Metadata(rule="The primary is lost, fail over", rule_uuid="r", rule_set=controller["name"],
                        rule_set_uuid="s", rule_run_at="now")
    helper = Helper(metadata, Control(queue=None, inventory="", hosts=["pgha_nodes"], variables={"event": event},
                                      project_data_file=""), "run_job_template")
    extra_vars = helper.collect_extra_vars({}, rendered["include_events"])
    assert extra_vars["ansible_eda"]["event"] == event  # playbooks/failover.yml reads ansible_eda.event.repmgr


# -- the credential type --------------------------------------------------------------------------


def test_the_credential_type_has_a_secret_required_password():
    definition = load_yaml(CREDENTIAL_TYPE)
    assert definition["name"] and definition["description"]
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    assert fields["password"]["secret"] is True and fields["password"]["label"]
    assert definition["inputs"]["required"] == ["password"]


def test_the_credential_type_injects_the_variable_the_rulebooks_and_playbooks_read():
    definition = load_yaml(CREDENTIAL_TYPE)
    injectors = definition["injectors"]
    assert set(injectors) == {"extra_vars"}
    for name in injectors["extra_vars"]:
        assert not name.lower().startswith(("eda", "ansible")), f"{name}: EDA_ and ansible_ are reserved"
    env = SandboxedEnvironment()
    rendered = {name: env.from_string(value).render(password="s3cr:et") for name, value in
                injectors["extra_vars"].items()}
    assert rendered == {"pgha_repmgr_password": "s3cr:et"}
    for name in (CLI, CONTROLLER):
        (ruleset,) = rulebook(name)
        assert ruleset["sources"][0]["pgha.repmgr.repmgr_monitor"]["password"] == \
               "{{ pgha_repmgr_password | default('') }}"
    defaults = (ROOT / "plugins" / "plugin_utils" / "inventory_defaults.py").read_text(encoding="utf-8")
    assert '("login_password", "pgha_repmgr_password")' in defaults, "the modules' password default moved"


# -- Galaxy -----------------------------------------------------------------------------------------


def test_meta_extensions_lists_the_event_source_directory():
    extensions = load_yaml(ROOT / "meta" / "extensions.yml")["extensions"]
    dirs = [entry["args"]["ext_dir"] for entry in extensions]
    assert dirs == ["eda/plugins/event_source"]
    for ext_dir in dirs:
        assert (ROOT / "extensions" / ext_dir / "repmgr_monitor.py").is_file()


# -- Python requirements -----------------------------------------------------------------------------


def test_requirements_txt_has_the_run_time_needs_without_pins():
    lines = requirement_lines(ROOT / "requirements.txt")
    requirements = [Requirement(line) for line in lines]  # no -r/-c/options: every line is a requirement
    names = {requirement.name.lower() for requirement in requirements}
    assert {"psycopg", "jmespath"} <= names
    assert not names & NOT_FROM_THE_COLLECTION, "the image brings its own ansible-core and ansible-rulebook"
    for requirement in requirements:
        exact = [spec for spec in requirement.specifier if spec.operator in ("==", "===")]
        assert not exact, f"{requirement}: ansible-builder merges this file into images; no pins"


def test_the_development_set_pins_what_requirements_txt_leaves_open():
    lines = requirement_lines(ROOT / "requirements-test.txt")
    assert "-r requirements.txt" in lines
    pins = {Requirement(line).name.lower(): str(Requirement(line).specifier) for line in lines
            if not line.startswith("-")}
    for name in ("ansible-core", "ansible-rulebook", "psycopg", "jmespath", "ansible-builder"):
        assert pins.get(name, "").startswith("=="), f"requirements-test.txt must pin {name}"
    constraints = {}
    for line in requirement_lines(ROOT / "constraints.txt"):
        name, version = line.split("==")
        constraints[re.sub(r"[-_.]+", "-", name).lower()] = version
    for name, spec in pins.items():
        assert constraints.get(name) == spec[2:], f"{name}{spec} disagrees with constraints.txt"


def test_meta_execution_environment_names_requirements_txt():
    meta = load_yaml(ROOT / "meta" / "execution-environment.yml")
    assert meta["dependencies"] == {"python": "requirements.txt"}
    assert (ROOT / meta["dependencies"]["python"]).is_file()  # relative to the collection root


# -- ansible-builder ---------------------------------------------------------------------------------


def test_decision_environment_installs_the_tarball_of_galaxy_yml_version():
    definition = load_yaml(ROOT / "decision-environment.yml")
    tarball = f"pgha-repmgr-{galaxy_version()}.tar.gz"
    assert definition["version"] == 3
    assert [c["name"] for c in definition["dependencies"]["galaxy"]["collections"]] == [
        f"/build/collections/{tarball}"]
    assert definition["additional_build_files"] == [{"src": f"build/{tarball}", "dest": "collections"}]
    assert any(line.startswith("java-17-openjdk") for line in definition["dependencies"]["system"])
    python = {Requirement(line).name for line in definition["dependencies"]["python"]}
    assert {"ansible-rulebook", "psycopg"} <= python


def job_templates_execution_environment() -> str:
    """The execution environment definition of docs/eda-controller.md (a yaml block naming the file)."""
    text = (ROOT / "docs" / "eda-controller.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    found = [block for block in blocks if "# execution-environment.yml" in block]
    assert len(found) == 1, "docs/eda-controller.md must show one execution-environment.yml"
    return found[0]


@pytest.fixture(scope="module")
def collection_tarball(tmp_path_factory) -> Path:
    """The collection as it ships: ansible-galaxy collection build of the working tree."""
    out = tmp_path_factory.mktemp("collection")
    run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(out), str(ROOT)])
    tarball = out / f"pgha-repmgr-{galaxy_version()}.tar.gz"
    assert tarball.is_file()
    return tarball


def builder_create(definition_text: str, tarball: Path, workdir: Path) -> Path:
    """ansible-builder create of a definition that sits, as in the repository, beside build/<tarball>."""
    (workdir / "build").mkdir(parents=True)
    shutil.copy(tarball, workdir / "build" / tarball.name)
    definition = workdir / "environment.yml"
    definition.write_text(definition_text, encoding="utf-8")
    context = workdir / "context"
    run([tool("ansible-builder"), "create", "-f", str(definition), "-c", str(context),
         "--output-filename", "Containerfile"], cwd=workdir)
    return context


def test_ansible_builder_creates_the_decision_environments_build_context(collection_tarball, tmp_path):
    context = builder_create((ROOT / "decision-environment.yml").read_text(encoding="utf-8"),
                             collection_tarball, tmp_path)
    containerfile = (context / "Containerfile").read_text()
    build = context / "_build"
    assert (build / "collections" / collection_tarball.name).is_file()
    assert load_yaml(build / "requirements.yml") == {"collections": [
        {"name": f"/build/collections/{collection_tarball.name}", "type": "file"}]}
    assert "java-17-openjdk-headless" in (build / "bindep.txt").read_text()
    assert {Requirement(line).name for line in requirement_lines(build / "requirements.txt")} >= {
        "ansible-rulebook", "psycopg"}
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    assert "ansible-core>=2.16 ansible-runner" in containerfile


def test_ansible_builder_creates_the_job_templates_execution_environment_context(collection_tarball, tmp_path):
    context = builder_create(job_templates_execution_environment(), collection_tarball, tmp_path)
    assert (context / "Containerfile").is_file()
    assert (context / "_build" / "collections" / collection_tarball.name).is_file()
    # no Python requirement of its own: the collection's come by introspection (next test)
    assert not (context / "_build" / "requirements.txt").exists()


def test_ansible_builders_introspection_reads_the_collections_run_time_needs(collection_tarball, tmp_path):
    """What ansible-builder installs into any image that holds the collection (meta/execution-environment.yml)."""
    installed = tmp_path / "collections"
    run([tool("ansible-galaxy"), "collection", "install", "--force", "-p", str(installed), str(collection_tarball)])
    written = tmp_path / "requirements.txt"
    run([tool("ansible-builder"), "introspect", str(installed), "--write-pip", str(written)])
    requirements = [Requirement(line) for line in requirement_lines(written)]
    assert {str(requirement) for requirement in requirements} == {"psycopg[binary]>=3.1", "jmespath>=1.0"}
    assert not {requirement.name for requirement in requirements} & NOT_FROM_THE_COLLECTION
