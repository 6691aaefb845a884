"""`make check` refuses a lock file that no longer matches pyproject.toml (scripts/lock-check)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _project_copy(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "lock-check", tmp_path / "scripts" / "lock-check")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "requirements.lock", tmp_path / "requirements.lock")
    return tmp_path


def _check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(project / "scripts" / "lock-check")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_committed_lock_matches_pyproject(tmp_path: Path) -> None:
    """The lock in the tree was made from the pyproject.toml in the tree."""
    result = _check(_project_copy(tmp_path))
    assert (0, "") == (result.returncode, result.stdout)


def test_a_changed_range_without_a_new_lock_fails_in_one_line(tmp_path: Path) -> None:
    """Widening a range (which would keep the old pin silently) fails, naming both versions."""
    project = _project_copy(tmp_path)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert '"redis>=5,<9"' in text
    pyproject.write_text(text.replace('"redis>=5,<9"', '"redis>=5,<10"'))
    result = _check(project)
    assert 1 == result.returncode
    lines = result.stdout.strip().splitlines()
    assert 1 == len(lines)
    assert "main redis>=5,<10" in lines[0]
    assert "main redis>=5,<9" in lines[0]
    assert "make lock" in lines[0]


def test_a_lock_without_recorded_inputs_fails(tmp_path: Path) -> None:
    """A lock written by hand (no recorded inputs) is refused rather than trusted."""
    project = _project_copy(tmp_path)
    lock = project / "requirements.lock"
    lock.write_text(lock.read_text().split("# lock inputs", 1)[0])
    assert 1 == _check(project).returncode
