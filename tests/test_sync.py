"The committed package is exactly what the notebooks export, and README.md is what index.ipynb renders to."
import filecmp, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_package_matches_notebooks(tmp_path):
    for name in ("settings.ini", "setup.py", "README.md"): shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "nbs", tmp_path / "nbs")
    nbdev_export = Path(sys.executable).parent / "nbdev_export"
    subprocess.run([str(nbdev_export)], cwd=tmp_path, check=True, capture_output=True)
    exported = sorted(p.relative_to(tmp_path / "spikeometric_nb") for p in (tmp_path / "spikeometric_nb").rglob("*.py"))
    committed = sorted(p.relative_to(ROOT / "spikeometric_nb") for p in (ROOT / "spikeometric_nb").rglob("*.py"))
    assert exported == committed, "modules differ: run nbdev_export and commit spikeometric_nb/"
    stale = [str(p) for p in exported if not filecmp.cmp(tmp_path / "spikeometric_nb" / p, ROOT / "spikeometric_nb" / p, shallow=False)]
    assert not stale, f"{stale} differ from the notebooks: run nbdev_export, never edit spikeometric_nb/ by hand"


def test_readme_matches_index():
    sys.path.insert(0, str(ROOT / "tools"))
    from readme import render_readme
    assert (ROOT / "README.md").read_text() == render_readme(), "README.md is out of date: run python tools/readme.py"


def test_exported_lines_fit():
    "Exported code is at most 120 characters a line. nbdev writes _modidx.py and each module's `__all__` itself (it"
    " wraps the names at 120, then puts `__all__ = ` before them): those are not our lines."
    long = []
    for module in sorted((ROOT / "spikeometric_nb").glob("*.py")):
        if module.name == "_modidx.py": continue
        cells = module.read_text(encoding="utf-8").split("\n# %% ")
        for cell in cells:
            if cell.startswith("auto #0"): continue   # nbdev's __all__
            long += [f"{module.name}: {line[:60]}…" for line in cell.split("\n") if len(line) > 120]
    assert not long, f"lines over 120 characters: {long}"
