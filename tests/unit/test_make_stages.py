"""A stage of `make test` that would test nothing fails instead of printing SKIPPED and passing."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_a_pytest_stage_without_test_files_fails(tmp_path):
    (tmp_path / "helpers.py").write_text("X = 1\n")
    proc = run([str(ROOT / "scripts/pytest_stage.sh"), str(tmp_path)])
    assert proc.returncode == 1
    assert "has no test files" in proc.stderr


def test_a_pytest_stage_whose_files_hold_no_test_fails(tmp_path):
    (tmp_path / "test_nothing.py").write_text('"""no test here"""\n')
    proc = run([str(ROOT / "scripts/pytest_stage.sh"), str(tmp_path), "-p", "no:cacheprovider"])
    assert proc.returncode == 1
    assert "pytest collected no test" in proc.stderr


def test_a_pytest_stage_with_a_failing_test_fails_and_a_passing_one_passes(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 == 2\n")
    assert run([str(ROOT / "scripts/pytest_stage.sh"), str(tmp_path), "-q", "-p", "no:cacheprovider"]).returncode == 1
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 == 1\n")
    assert run([str(ROOT / "scripts/pytest_stage.sh"), str(tmp_path), "-q", "-p", "no:cacheprovider"]).returncode == 0


def test_the_molecule_stage_without_its_scenario_fails(tmp_path):
    proc = run([str(ROOT / "scripts/molecule_stage.sh"), str(tmp_path)])
    assert proc.returncode == 1
    assert "no molecule/default/molecule.yml" in proc.stderr
