"""Render README.md from nbs/index.ipynb without quarto: nbdev's notebook processing, then nbconvert's markdown exporter.

Usage: python tools/readme.py          # rewrite README.md
       python tools/readme.py --check  # exit 1 if README.md is out of date
"""
import sys
from pathlib import Path

from execnb.nbio import read_nb, dict2nb
from nbconvert.exporters import MarkdownExporter
from nbdev.config import get_config
from nbdev.processors import FilterDefaults
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _front_matter_to_markdown(nb) -> None:
    "nbdev turns the title cell into quarto front matter; quarto would render it as a heading and a summary."
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.startswith("---"):
            fields = yaml.safe_load(cell.source.strip().strip("-"))
            cell.cell_type = "markdown"
            cell.source = f"# {fields['title']}\n\n> {fields['description']}"


def render_readme() -> str:
    "The README text that nbs/index.ipynb renders to."
    cfg = get_config(path=ROOT)
    nb = read_nb(cfg.nbs_path / cfg.readme_nb)
    FilterDefaults()(nb)
    _front_matter_to_markdown(nb)
    notebook = nbformat.from_dict({"cells": [dict(c) for c in nb.cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    for cell in notebook.cells: cell.setdefault("metadata", {}); cell.pop("idx_", None)
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(notebook)
    return body.strip() + "\n"


if __name__ == "__main__":
    text, readme = render_readme(), ROOT / "README.md"
    if "--check" in sys.argv[1:]:
        sys.exit(0 if readme.exists() and readme.read_text() == text else "README.md is out of date with nbs/index.ipynb: run python tools/readme.py")
    readme.write_text(text)
