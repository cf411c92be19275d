"Every notebook runs as a test: its examples and assertions are the library's tests (nbdev_test)."
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.relative_to(ROOT / "nbs").as_posix() for p in (ROOT / "nbs").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_every_notebook_is_collected():
    assert {"00_datasets.ipynb", "05_simulation.ipynb", "06_tuning.ipynb", "tutorials/tune_model.ipynb"} <= set(NOTEBOOKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook(notebook):
    nbdev_test = Path(sys.executable).parent / "nbdev_test"
    run = subprocess.run([str(nbdev_test), "--path", f"nbs/{notebook}", "--do_print"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
