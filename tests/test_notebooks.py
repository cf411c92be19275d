"""Every notebook runs as a test: its examples and assertions are the library's tests. Each is executed as
nbdev_test executes it (top to bottom in a fresh kernel, cwd = its folder, this checkout's package, the
`nbdev_export()` cell, `#| eval: false` cells and the settings' tst_flags cells skipped), but in a Jupyter
kernel through tools/docs.py, once per test run (`conftest.execute_once`): the docs test then renders the
executed copies instead of running every notebook a second time."""
import re
from pathlib import Path
import pytest
from conftest import execute_once

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.relative_to(ROOT / "nbs").as_posix() for p in (ROOT / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_every_notebook_is_collected():
    assert {"00_datasets.ipynb", "05_simulation.ipynb", "06_tuning.ipynb", "tutorials/tune_model.ipynb"} <= set(NOTEBOOKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook(notebook):
    run = execute_once(notebook)
    if run["error"] is not None:  # the failing cell and its traceback, without the terminal's colours
        pytest.fail(f"{notebook} raised:\n" + re.sub(r"\x1b\[[0-9;]*m", "", run["error"]), pytrace=False)
