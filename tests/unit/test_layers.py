"""The package's layers: a module imports only from its own layer or below, and no private names.

The layers are ARCHITECTURE.md's, top to bottom. Every ``import`` and ``from ... import`` in the
package is read with ``ast`` (those inside functions and ``TYPE_CHECKING`` blocks too), so a
planted upward import fails here with the module, the line and both layers named.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import preflight

PACKAGE = Path(preflight.__file__).parent

# Top to bottom; a module may import its own layer and every layer after it. The key is the
# first part of the module path under ``preflight`` (a package or a top-level module).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "__main__"}),  # the public API re-exports every layer, lazily
    frozenset({"cli"}),
    frozenset({"pipelines"}),
    frozenset({"reports"}),
    frozenset({"training", "run_config", "cluster"}),  # a run config describes a training run
    frozenset({"data", "synth"}),
    frozenset({"scanning", "split", "validators"}),
    frozenset({"evaluation", "config"}),
    frozenset({"sources", "manifest", "models", "expectations"}),
    frozenset({"errors", "results", "progress", "console", "signals", "_version"}),  # ground floor
)


@dataclass(frozen=True)
class Import:
    """One import statement of a module of the package."""

    module: str  # the importing module, dotted, under ``preflight``
    line: int
    target: str  # the imported module, dotted, under ``preflight``
    names: tuple[str, ...]  # names taken from it (``from X import a, b``); empty for ``import X``


def layer_of(module: str) -> int:
    """The index in ``LAYERS`` of a dotted module path under ``preflight`` (``preflight`` = 0)."""
    head = module.split(".")[1] if "." in module else "__init__"
    for index, layer in enumerate(LAYERS):
        if head in layer:
            return index
    raise AssertionError(f"{module}: its stage {head!r} is in no layer of LAYERS; add it")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of a (possibly relative) ``from ... import``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, *, module: str | None = None) -> list[Import]:
    """Every import of ``preflight`` modules in the file at ``path``.

    Args:
        path: a Python file.
        module: the dotted module the file is read as (default: its place in the package).
    """
    module = module or _module_name(path)
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "preflight":
                    found.append(Import(module, node.lineno, alias.name, ()))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node)
            if target.split(".")[0] == "preflight":
                names = tuple(alias.name for alias in node.names)
                found.append(Import(module, node.lineno, target, names))
    return found


def _targets(imp: Import) -> list[str]:
    """The modules an import reaches (``from preflight import x`` reaches module ``x`` if one)."""
    if imp.target != "preflight":
        return [imp.target]
    return [
        f"preflight.{name}"
        if (PACKAGE / f"{name}.py").exists() or (PACKAGE / name).is_dir()
        else "preflight"  # a name of the public API: the top layer
        for name in imp.names
    ]


def upward(imports: list[Import]) -> list[str]:
    """The imports that reach a layer above their module's, as messages."""
    bad = []
    for imp in imports:
        if imp.module == "preflight" or imp.module == "preflight.__main__":
            continue
        for target in _targets(imp):
            if layer_of(target) < layer_of(imp.module):
                bad.append(
                    f"{imp.module}:{imp.line} imports {target} "
                    f"(layer {layer_of(target)} is above layer {layer_of(imp.module)})"
                )
    return bad


def private(imports: list[Import]) -> list[str]:
    """Names starting with ``_`` taken from another module, as messages.

    A private *module* imported by a module of its own package (``from preflight.validators
    import _gx`` in ``validators/suites.py``) is the package's business and allowed.
    """
    bad = []
    for imp in imports:
        for name in imp.names:
            if not name.startswith("_") or name.startswith("__"):
                continue
            package = imp.module.rpartition(".")[0]
            folder = PACKAGE.joinpath(*imp.target.split(".")[1:])
            if imp.target == package and (folder / f"{name}.py").exists():
                continue
            bad.append(f"{imp.module}:{imp.line} takes {name} from {imp.target}")
    return bad


def _all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def test_every_module_is_in_a_layer() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        layer_of(_module_name(path))  # raises naming the module's stage


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert upward(_all_imports()) == []


def test_no_module_takes_a_private_name_from_another() -> None:
    assert private(_all_imports()) == []


@pytest.mark.parametrize(
    ("module_path", "source"),
    [
        ("config.py", "from preflight.split import SplitMethod\n"),
        ("data/sample.py", "def f():\n    from preflight.training import loop\n"),
        ("manifest/store.py", "from preflight import pipelines\n"),
        ("scanning/derive.py", "from ..reports.model import SplitStats\n"),
    ],
)
def test_a_planted_upward_import_is_found(module_path: str, source: str, tmp_path: Path) -> None:
    planted = tmp_path / module_path
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(source, encoding="utf-8")
    imports = imports_of(planted, module=_module_name(PACKAGE / module_path))
    assert len(upward(imports)) == 1


def test_a_private_name_from_another_module_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "stamps.py"
    planted.write_text("from preflight.training.eeg import _keep\n", encoding="utf-8")
    imports = imports_of(planted, module="preflight.training.stamps")
    assert private(imports) == [
        "preflight.training.stamps:1 takes _keep from preflight.training.eeg"
    ]


# Modules outside manifest/ whose SQL reads Parquet *files* (read_parquet), never manifest tables.
PARQUET_SQL = frozenset(
    {"scanning/parquet_read.py", "scanning/parquet_judge.py", "data/parquet_rows.py"}
)
_SQL = re.compile(r"\b(SELECT|INSERT INTO|CREATE (TABLE|VIEW)|UPDATE \w+ SET|DELETE FROM)\b")


def _code_strings(path: Path) -> list[str]:
    """The string literals of a module, its docstrings (examples for people) left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_sql_on_manifest_tables_lives_in_manifest() -> None:
    """Other stages call named functions of ``manifest/`` (queries, writes, runs, quarantine)."""
    holding = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(_SQL.search(text) for text in _code_strings(path))
    }
    outside = {p for p in holding if not p.startswith("manifest/")}
    assert outside == PARQUET_SQL
