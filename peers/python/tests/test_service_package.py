"""The package as a user gets it: a wheel built from pyproject.toml (with the generated code and the
schemas) installs into a fresh virtual environment, pulling its dependencies from the wheel's
metadata, and the README example's import line works there."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .services import PEER

#: Building and installing downloads setuptools and the dependencies (cached by pip after once).
STEP_SECONDS = 120


def _run(*command: str | Path, cwd: Path) -> None:
    subprocess.run([str(part) for part in command], cwd=cwd, check=True, timeout=STEP_SECONDS, capture_output=True, text=True)


def test_the_wheel_installs_and_imports(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    # A copy, so that building leaves nothing (build/, *.egg-info) in the checkout.
    shutil.copytree(PEER / "correio", source / "correio", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PEER / name, source / name)
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", wheels, source, cwd=tmp_path)
    [wheel] = wheels.glob("correio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"correio/service/__init__.py", "correio/py.typed", "correio/generated/catalogue.py", "correio/generated/schemas/service.call.request.json"} <= names

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=tmp_path)
    readme = (PEER / "README.md").read_text(encoding="utf-8")
    import_line = re.search(r"^from correio\.service import .*$", readme, re.M)
    assert import_line is not None
    check = f"{import_line.group(0)}\nimport correio.service\nassert correio.service.__file__.startswith({str(venv)!r})\nprint('ok')"
    result = subprocess.run([str(python), "-c", check], cwd=tmp_path, check=True, timeout=STEP_SECONDS, capture_output=True, text=True)
    assert result.stdout.strip() == "ok"
