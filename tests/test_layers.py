"""No module of the package imports a module above it: the layer order is the README's module table, read bottom-up.

Every import counts, at the top of a module or inside a function (a deferred import is a dependency all the same):
`from .x import ...`, `from spikeometric_nb.x import ...`, `import spikeometric_nb.x`, `from spikeometric_nb import x`.
"""
import ast, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "spikeometric_nb"
NOT_LAYERS = {"__init__", "_modidx"}   # the version and nbdev's index: no layer, they import nothing of ours


def layer_order(readme:str) -> list[str]:
    "The modules of the README's `| notebook | module | what |` table, in the table's order (lowest first)."
    lines = readme.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"\|\s*notebook\s*\|\s*module\s*\|\s*what\s*\|", line))
    modules = []
    for line in lines[start + 2:]:
        if not line.startswith("|"): break
        found = re.search(rf"`{PACKAGE}\.(\w+)`", line.split("|")[2])
        assert found, f"a row of the module table names no module: {line}"
        modules.append(found.group(1))
    return modules


def imported_modules(source:str, modules:set) -> set[tuple[str, int]]:
    "(module of the package, line) for every import of one in `source`, wherever it stands."
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or node.module == PACKAGE:   # `from . import x`, `from spikeometric_nb import x`
                if node.module in (None, PACKAGE): found |= {(a.name, node.lineno) for a in node.names}
                else: found.add((node.module.split(".")[0], node.lineno))   # `from .x import ...`
            elif node.module and node.module.startswith(PACKAGE + "."):
                found.add((node.module.split(".")[1], node.lineno))
        elif isinstance(node, ast.Import):
            found |= {(a.name.split(".")[1], node.lineno) for a in node.names if a.name.startswith(PACKAGE + ".")}
    return {(name, line) for name, line in found if name in modules}


def violations(order:list[str], sources:dict[str, str]) -> list[str]:
    "Every import of a module at or above the importing one (and every module the order leaves out)."
    missing = sorted(set(sources) - set(order))
    problems = [f"{m}: not in the README's module table (add its row where it belongs in the layers)" for m in missing]
    rank = {m: i for i, m in enumerate(order)}
    for module, source in sorted(sources.items()):
        if module not in rank: continue
        for name, line in sorted(imported_modules(source, set(sources))):
            if name != module and rank[name] > rank[module]:
                problems.append(f"{module}.py:{line} imports {name}, which the table lists above it")
    return problems


def package_sources() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / PACKAGE).glob("*.py"))
            if p.stem not in NOT_LAYERS}


def test_no_module_imports_one_above_it():
    order = layer_order((ROOT / "README.md").read_text(encoding="utf-8"))
    problems = violations(order, package_sources())
    assert not problems, "layer violations:\n" + "\n".join(problems)


def test_table_lists_each_module_once():
    order = layer_order((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(order) == len(set(order)), f"a module appears twice in the table: {order}"
    assert not set(order) - set(package_sources()), f"the table names modules the package lacks: {order}"


def test_the_checker_sees_every_form_of_import():
    "The checker itself: each form of import, at the top and inside a function, is caught; a module missing too."
    order = ["low", "high"]
    forms = ["from .high import x", "from spikeometric_nb.high import x", "import spikeometric_nb.high",
             "from spikeometric_nb import high", "from . import high", "import spikeometric_nb.high as h"]
    for form in forms:
        for source in (form, f"def later():\n    {form}\n"):
            assert violations(order, {"low": source, "high": ""}) == [
                f"low.py:{1 if source == form else 2} imports high, which the table lists above it"], source
    assert violations(order, {"low": "", "high": "from .low import x\nimport torch"}) == []   # downwards is fine
    assert violations(order, {"low": "", "high": "", "extra": ""}) == [
        "extra: not in the README's module table (add its row where it belongs in the layers)"]
