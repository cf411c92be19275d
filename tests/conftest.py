"""The property-based tests draw the same examples on every run (hypothesis's `derandomize`), so that a
test run, and CI, gives the same verdict for the same code. To search for new failing inputs, run them
with fresh random examples and more of them, e.g.
`SPIKEOMETRIC_NB_FUZZ_RANDOM=1 SPIKEOMETRIC_NB_FUZZ_EXAMPLES=3000 pytest tests/test_fuzz*.py`;
hypothesis then prints the smallest failing input, which belongs in a test of its own.

Each notebook is executed once per test run (`execute_once`): tests/test_notebooks.py asks for each, the docs
test renders the executed copies, so the site is built without running a notebook a second time. The copies
live in .pytest_cache/notebooks/, emptied when a run starts; with pytest-xdist a lock per notebook makes a
worker that needs a notebook another worker is executing wait for it rather than run it again. To work on the
docs, `SPIKEOMETRIC_NB_EXECUTED=.pytest_cache/notebooks pytest tests/test_docs.py` keeps the executed notebooks
of the last run instead (stale where a notebook changed since).

`SPIKEOMETRIC_NB_SUITE_TIMES=nbs/benchmarks/suite_times.json SPIKEOMETRIC_NB_SUITE_LABEL=after pytest` records
how long each part of the run took as the run labelled "after" in that file (see `_SuiteTimes`); the benchmark
page (nbs/benchmarks.ipynb) shows the file's runs side by side."""
import ast, datetime, fcntl, functools, json, os, platform, re, shutil, sys, time
from pathlib import Path

import nbformat
import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile("explore" if os.environ.get("SPIKEOMETRIC_NB_FUZZ_RANDOM") else "repeatable")

ROOT = Path(__file__).resolve().parent.parent
KEEP_EXECUTED = bool(os.environ.get("SPIKEOMETRIC_NB_EXECUTED"))
EXECUTED = Path(os.environ.get("SPIKEOMETRIC_NB_EXECUTED") or ROOT / ".pytest_cache" / "notebooks").resolve()
TIMES = ROOT / "nbs" / "benchmarks" / "suite_times.json"  # the benchmark page's record of a whole run
sys.path.insert(0, str(ROOT / "tools"))
import docs  # noqa: E402  (tools/docs.py: executes, processes and renders the notebooks)


def _worker(config) -> bool: return hasattr(config, "workerinput")  # an xdist worker, not the run itself


def execute_once(notebook: str) -> dict:
    """`notebook` (relative to nbs/) executed once in this test run, by whichever test asks first:
    {"error": the failing cell's traceback or None, "seconds": execution time, "here": executed by this call}."""
    EXECUTED.mkdir(parents=True, exist_ok=True)
    with open(EXECUTED / (notebook.replace("/", "__") + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        path = docs.executed_path(EXECUTED, notebook)
        if path.exists(): return {**nbformat.read(path, as_version=4).metadata["executed"], "here": False}
        return {**docs.execute_to(notebook, EXECUTED), "here": True}


def execute_all(notebooks: list) -> dict:
    """Each notebook executed once in this run (`execute_once`): first those no other worker is executing now,
    then, waiting for them, the others. {notebook: what execute_once returned}."""
    runs = {}
    for nb in notebooks:
        EXECUTED.mkdir(parents=True, exist_ok=True)
        with open(EXECUTED / (nb.replace("/", "__") + ".lock"), "w") as lock:
            try: fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError: continue  # another worker is executing it: come back to it
        runs[nb] = execute_once(nb)
    return {nb: runs.get(nb) or execute_once(nb) for nb in notebooks}


try: from xdist.scheduler import LoadScopeScheduling
except ImportError: LoadScopeScheduling = None  # pytest -n 0 needs no xdist

if LoadScopeScheduling:
    class _GroupScheduling(LoadScopeScheduling):
        "xdist's loadscope with the scopes `_group` names, each other test a scope of its own."
        def _split_scope(self, nodeid): return _group(nodeid) or nodeid

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(config, log):
        """`--dist loadgroup` with the groups of `_group`. (xdist's own groups append "@group" to an item's
        `_nodeid`, which pytest 9 no longer reads: its loadgroup splits a group over the workers.)"""
        if config.getvalue("dist") == "loadgroup": return _GroupScheduling(config, log)


def pytest_configure(config):
    if not _worker(config):  # the run itself, before any xdist worker starts
        if not KEEP_EXECUTED: shutil.rmtree(EXECUTED, ignore_errors=True)
        if os.environ.get("SPIKEOMETRIC_NB_SUITE_TIMES"):
            config.pluginmanager.register(_SuiteTimes(config), "suite_times")


def pytest_collection_modifyitems(config, items):
    """The longest tests first, by the seconds TIMES recorded (so that two xdist workers end together); the
    docs test last: it renders the notebooks that tests/test_notebooks.py executed before it."""
    try: seconds = next(r["tests"] for r in reversed(json.loads(TIMES.read_text())["runs"]) if r.get("tests"))
    except (OSError, ValueError, KeyError, StopIteration): seconds = {}
    items.sort(key=lambda item: (item.nodeid.startswith("tests/test_docs.py"), -seconds.get(item.nodeid, 0.0)))


def _group(nodeid: str) -> str | None:
    """The tests that must run on one xdist worker, one after the other: "docs" (the site is built once, by the
    module's fixture), "ray" (the tests and notebooks that start a local Ray instance: two starting at once on
    two cores can time out); None for any other test."""
    if nodeid.startswith("tests/test_docs.py"): return "docs"
    nb = re.fullmatch(r"tests/test_notebooks\.py::test_notebook\[(.+)\]", nodeid)
    if nb and _starts_ray(nb[1]): return "ray"
    file, _, test = nodeid.partition("::")
    if test and test.split("[")[0] in _tests_using(file, "local_ray"): return "ray"
    return None


@functools.cache
def _tests_using(file: str, fixture: str) -> set:
    "The test functions of `file` (relative to the root) that take the fixture `fixture`."
    try: tree = ast.parse((ROOT / file).read_text())
    except (OSError, SyntaxError): return set()
    return {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name.startswith("test")
            and fixture in [a.arg for a in f.args.args]}


@functools.cache
def _starts_ray(notebook: str) -> bool:
    "Whether a code cell of the notebook (not a definition it exports) runs a sweep on Ray or starts Ray itself."
    cells = nbformat.read(ROOT / "nbs" / notebook, as_version=4).cells
    return any(re.search(r"""\.run\([^)]*executor\s*=\s*"ray"|(?<![\w"'.])ray\.init\(""", c.source) for c in cells
               if c.cell_type == "code" and not re.match(r"#\|\s*export", c.source))


def _part(nodeid: str, when: str) -> str:
    "The part of the suite a test phase belongs to: one notebook, the docs build, the browser checks, or a test file."
    file = nodeid.split("::")[0].removeprefix("tests/")
    if file == "test_notebooks.py" and "[" in nodeid: return "notebook " + nodeid.split("[", 1)[1].rstrip("]")
    if file == "test_docs.py": return "docs: site build" if when == "setup" else "docs: browser checks"
    return file


def _cpu_model() -> str:
    try: return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


class _SuiteTimes:
    """Sums the seconds of every test phase (setup, call, teardown) by part and by test; writes them with the run's
    wall time, machine and load as the run labelled SPIKEOMETRIC_NB_SUITE_LABEL (default "latest") of the file
    SPIKEOMETRIC_NB_SUITE_TIMES names, keeping its other runs."""
    def __init__(self, config):
        self.path, self.t0, self.load0 = Path(os.environ["SPIKEOMETRIC_NB_SUITE_TIMES"]), time.time(), os.getloadavg()
        self.workers = getattr(config.option, "numprocesses", None) or 0
        self.parts, self.tests, self.outcomes = {}, {}, {}

    def pytest_runtest_logreport(self, report):  # with xdist, the workers' reports arrive here too
        nodeid = report.nodeid
        part = _part(nodeid, report.when)
        self.parts[part] = self.parts.get(part, 0.0) + report.duration
        self.tests[nodeid] = self.tests.get(nodeid, 0.0) + report.duration
        if report.when == "call" or report.outcome != "passed":  # a test once, a failing setup or teardown too
            self.outcomes[report.outcome] = self.outcomes.get(report.outcome, 0) + 1

    def pytest_sessionfinish(self, session, exitstatus):
        load = os.getloadavg()
        out = {"label": os.environ.get("SPIKEOMETRIC_NB_SUITE_LABEL", "latest"), "how": "measured by the suite",
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": f"{platform.node()}: {os.cpu_count()} CPUs, {_cpu_model()}",
               "command": " ".join(["pytest", *session.config.invocation_params.args]), "workers": self.workers,
               "load_average_1min": {"start": round(self.load0[0], 2), "end": round(load[0], 2)},
               "wall_seconds": round(time.time() - self.t0, 1), "exit_status": int(exitstatus),
               "outcomes": self.outcomes,
               "parts": {k: round(v, 1) for k, v in sorted(self.parts.items(), key=lambda kv: -kv[1])},
               "tests": {k: round(v, 2) for k, v in sorted(self.tests.items(), key=lambda kv: -kv[1]) if v >= 0.5}}
        try: runs = [r for r in json.loads(self.path.read_text())["runs"] if r.get("label") != out["label"]]
        except (OSError, ValueError, KeyError): runs = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"runs": runs + [out]}, indent=1, ensure_ascii=False) + "\n")
