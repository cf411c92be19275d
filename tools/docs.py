"""Build the documentation site into _docs/ without quarto, and README.md from nbs/index.ipynb.

Every notebook nbdev would publish is executed afresh against this checkout's package (nbclient, cwd =
the notebook's folder, the cells nbdev_test skips left out: the `nbdev_export()` cell, `#| eval: false`
and the settings' tst_flags), or read executed from a folder (`--from-executed`: the test run executes
each notebook once, as its test, and the docs test renders those copies), then run through nbdev's own
notebook processing (`FilterDefaults`: front matter, show_doc tables, `#| hide` and the other directives,
doc links), and written as a page by nbconvert's HTML exporter with the template in
tools/docs_template (JupyterLab's, plus a navigation bar and a local MathJax). The index page is
nbs/index.ipynb followed by a list of every page. Pages need nothing from the internet: CSS is
inlined, figures are embedded, MathJax 2.7 comes from the jupyter-server-mathjax package.

nbs/_quarto.yml, nbs/nbdev.yml, nbs/sidebar.yml and nbs/styles.css stay nbdev's standard docs
configuration, so `nbdev_docs` builds the full quarto site wherever quarto is installed.

Usage: python tools/docs.py              # build _docs/, refresh README.md and nbdev's docs config
       python tools/docs.py --site-only  # build _docs/ only (the test suite: README.md has its own test)
       python tools/docs.py --jobs 1     # notebooks executed one at a time (default: 2 at a time)
       python tools/docs.py --site-only --from-executed .pytest_cache/notebooks
                                         # the pages from notebooks the tests executed (see `execute_to`)
"""
import argparse, ast, copy, multiprocessing, os, re, shutil, sys, time, warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbformat.v4.rwbase import rejoin_lines, split_lines
from execnb.nbio import dict2nb
from jinja2 import pass_context
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.processors import FilterDefaults, exec_show_docs
# nbdev 2.4.14 keeps these private; each is what nbdev_docs itself does, so the pages match quarto's:
from nbdev.doclinks import _nbpath2html          # a notebook's page name (strips the number prefix, as quarto's site does)
from nbdev.frontmatter import _fm2dict, _md2dict # the title and description from a raw front-matter cell or the first "# title" cell
from nbdev.processors import _do_eval, _show_docs # whether a cell runs in the docs (`#| eval: false`) and holds show_doc calls

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))
from readme import render_readme  # noqa: E402

CFG = get_config(path=ROOT)
NBS, DOCS = CFG.nbs_path, CFG.doc_path
SITE_URL = f"{CFG.doc_host}{CFG.doc_baseurl}".rstrip("/") + "/"  # where nbdev's doc links point
MATHJAX = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
_re_export_call = re.compile(r"\bnbdev_export\(")
# nbdev_test puts the project's root first on sys.path: the notebooks test this checkout's package.
_KERNEL_SETUP = (f'import sys, warnings; sys.path.insert(0, {str(ROOT)!r}); '
                 'warnings.filterwarnings("ignore", message="IProgress not found")')
_re_tst_flag = re.compile(rf"^#\|\s*({'|'.join(map(re.escape, CFG.tst_flags.split())) or '$^'})\b", re.M)
_re_quarto_opt = re.compile(r"^#\|\s*([\w-]+):\s*(.*?)\s*$")


class Page:
    "One notebook and the page it becomes: `nb` relative to nbs/, `html` relative to _docs/."
    def __init__(self, nb: Path):
        self.nb, self.html = nb, _nbpath2html(nb)
        self.section = nb.parts[0] if len(nb.parts) > 1 else ""
        self.title, self.description = nb.stem, ""
        fm = {}  # as nbdev's FrontmatterProc reads it: raw `---` cells, else the first `# Title` / `> summary` cell
        for c in nbformat.read(NBS / nb, as_version=4).cells:
            if c.cell_type == "raw": fm.update(_fm2dict(c.source))
            elif c.cell_type == "markdown" and "title" not in fm: fm.update(_md2dict(c.source))
        self.title, self.description = str(fm.get("title", nb.stem)), str(fm.get("description", ""))

    def rel(self, target: str) -> str:
        "`target` (relative to _docs/) as a link from this page."
        return "../" * (len(self.html.parts) - 1) + target


def find_pages() -> list:
    "Every notebook nbdev would publish, index first, then the top level, then each folder."
    nbs = [Path(p).relative_to(NBS) for p in nbglob(NBS, file_re=r"\.ipynb$", skip_folder_re=r"^[_.]")]
    pages = [Page(p) for p in nbs]
    return sorted(pages, key=lambda p: (p.html.as_posix() != "index.html", p.section, str(p.nb)))


# ---- 1. execute ---------------------------------------------------------------------------------

def execute(nb_path) -> tuple:
    """The notebook (`nb_path` relative to nbs/) run top to bottom in a fresh kernel, and the error text if
    a cell raised. The cells nbdev_test skips are skipped, so this run is also the notebook's test."""
    nb_path = Path(nb_path)
    nb = nbformat.read(NBS / nb_path, as_version=4)
    # The hidden `nbdev_export()` cell would rewrite spikeometric_nb/: the docs only read the package.
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and _re_export_call.search(c.source))]
    for c in nb.cells:
        if c.cell_type != "code": continue
        c.metadata["docs_ran"] = True
        # the cells nbdev_test skips: `#| eval: false` and the settings' tst_flags (`#| slow`, `#| notest`)
        if re.search(r"^#\|\s*eval:\s*false\s*$", c.source, re.M | re.I) or _re_tst_flag.search(c.source):
            c.metadata.setdefault("tags", []).append("skip-execution")
    # tqdm.auto warns in every kernel without ipywidgets (the docs need none): that is not the library's output.
    nb.cells.insert(0, nbformat.v4.new_code_cell(_KERNEL_SETUP))
    error = None
    try:
        NotebookClient(nb, kernel_name="python3", timeout=1800,
                       resources={"metadata": {"path": str((NBS / nb_path).parent)}}).execute()
    except CellExecutionError as e:  # the page still shows what ran, the error included
        error = str(e)[-3000:]
    nb.cells.pop(0)
    return nb, error


def executed_path(folder, nb_path) -> Path:
    "Where `execute_to` keeps the executed copy of `nb_path` (relative to nbs/) in `folder`."
    return Path(folder) / nb_path


def execute_to(nb_path, folder) -> dict:
    """`execute` the notebook and save it with its outputs in `folder` (same relative path), the error
    and the seconds it took in its metadata; returns them: {"error": str|None, "seconds": float}."""
    t0 = time.time()
    nb, error = execute(nb_path)
    nb.metadata["executed"] = {"error": error, "seconds": round(time.time() - t0, 2)}
    dest = executed_path(folder, nb_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    nbformat.write(nb, tmp)
    tmp.replace(dest)  # a reader never sees half a notebook
    return nb.metadata["executed"]


def read_executed(nb_path, folder) -> tuple:
    "The notebook `execute_to` saved, and its error text: what `execute` returned."
    nb = nbformat.read(executed_path(folder, nb_path), as_version=4)
    return nb, nb.metadata.pop("executed", {}).get("error")


# ---- 2. nbdev's processing ----------------------------------------------------------------------

class _exec_show_docs(exec_show_docs):
    """nbdev's `exec_show_docs`, for the cells the kernel has not run: the show_doc cells nbdev adds.
    Cells the kernel ran keep its outputs, and the shell that renders show_doc runs only what show_doc
    needs from them: definitions, show_doc calls and import statements (nbdev_docs reruns a whole cell
    that mixes imports with other code, which fails where that code uses an earlier cell's variables)."""
    def __call__(self, cell):
        if not (getattr(self.nb, "has_docs_", None) and hasattr(self, "k") and cell.metadata.get("docs_ran") and _do_eval(cell)):
            return super().__call__(cell)
        trees = cell.parsed_()
        if cell.directives_.keys() & {"export", "exports", "exporti", "exec_doc"} or _show_docs(trees): src = cell.source
        else: src = "\n".join(ast.unparse(t) for t in trees if isinstance(t, (ast.Import, ast.ImportFrom)))
        self.k.run(src)
        if self.k.exc: raise Exception(f"show_doc's shell failed on {self.nb.path_}, cell {cell.idx_}:\n{src}") from self.k.exc


class _Filter(FilterDefaults):
    def base_procs(self): return [_exec_show_docs if p is exec_show_docs else p for p in super().base_procs()]


def _quarto_options_to_tags(cell) -> None:
    "The quarto cell options nbdev leaves in code cells, as the tags nbconvert's TagRemovePreprocessor reads."
    if cell.cell_type != "code": return
    lines, tags = cell.source.splitlines(), set(cell.metadata.get("tags", []))
    opts = dict(m.groups() for m in map(_re_quarto_opt.match, lines) if m)
    if opts.get("echo") == "false": tags.add("remove_input")
    if opts.get("output") == "false": tags.add("remove_output")
    if opts.get("include") == "false": tags.add("remove_cell")
    cell.source = "\n".join(l for l in lines if not _re_quarto_opt.match(l))
    cell.metadata = {"tags": sorted(tags)} if tags else {}


_re_link_attrs = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)\{([^}]*)\}')
_re_nb_link = re.compile(r'\]\((?![a-z]+:|/)([^)\s#]+\.ipynb)(#[^)\s]*)?\)')


def _markdown(text: str, page: Page) -> str:
    """Links as quarto makes them. nbdev's doc links point at the published site: here they point at this
    site's pages; a link to a notebook (`[the tutorial](tutorials/tune_model.ipynb)`) points at its page.
    show_doc's source link carries pandoc attributes (`[source](url){target="_blank" ...}`), which
    mistune does not read: they are dropped, the link stays."""
    text = text.replace(SITE_URL, page.rel(""))
    def _page(m):
        target = Path(os.path.normpath(page.nb.parent / m[1]))
        return f"]({page.rel(_nbpath2html(target).as_posix())}{m[2] or ''})"
    text = _re_nb_link.sub(_page, text)
    return _re_link_attrs.sub(r"[\1](\2)", text)


def process(nb, page: Page):
    "The executed notebook after nbdev's docs processing, ready for nbconvert."
    xnb = dict2nb(split_lines(copy.deepcopy(nb)))  # execnb's notebook, text as lists of lines as on disk
    xnb.path_ = str(NBS / page.nb)
    cwd = os.getcwd()
    os.chdir((NBS / page.nb).parent)  # show_doc cells run where the notebook runs
    try:
        with warnings.catch_warnings():  # _exec_show_docs runs only the imports of such cells: nbdev's advice does not apply
            warnings.filterwarnings("ignore", message="Found cells containing imports and other code")
            _Filter()(xnb)
    finally: os.chdir(cwd)
    for cell in xnb.cells:  # nbdev turns the title into quarto front matter, which quarto shows as a heading and a summary
        if cell.cell_type == "raw" and _fm2dict(cell.source):
            cell.cell_type, cell.source = "markdown", f"# {page.title}" + (f"\n\n> {page.description}" if page.description else "")
    out = rejoin_lines(nbformat.from_dict({"cells": [dict(c) for c in xnb.cells], "metadata": {"title": page.title},
                                           "nbformat": 4, "nbformat_minor": 4}))  # 4.4: cells need no ids
    for cell in out.cells:
        cell.pop("idx_", None); cell.pop("directives_", None); cell.pop("id", None)
        cell.setdefault("metadata", {})
        _quarto_options_to_tags(cell)
        if cell.cell_type == "markdown": cell.source = _markdown(cell.source, page)
        for o in cell.get("outputs", []):
            if "text/markdown" in o.get("data", {}): o.data["text/markdown"] = _markdown(o.data["text/markdown"], page)
            if "text/html" in o.get("data", {}): o.data["text/html"] = o.data["text/html"].replace(SITE_URL, page.rel(""))
    return out


# ---- 3. HTML ------------------------------------------------------------------------------------

class _Renderer(IPythonRenderer):
    "Heading ids in lower case, as quarto makes them, so that nbdev's doc links (`models.html#rectifiedlnp`) land."
    def heading(self, text, level, **attrs):
        return re.sub(r'(id="|href="#)([^"]*)"', lambda m: m[1] + m[2].lower() + '"', super().heading(text, level, **attrs))


class _Exporter(HTMLExporter):
    "nbconvert's HTML exporter with quarto's heading ids."
    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = _Renderer(escape=False, attachments=cell.get("attachments", {}), embed_images=self.embed_images,
                             path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                             anchor_link_text=self.anchor_link_text, exclude_anchor_links=self.exclude_anchor_links,
                             **self.lexer_options)
        return MarkdownWithMath(renderer=renderer).render(source)


def _exporter() -> HTMLExporter:
    from traitlets.config import Config
    c = Config()
    c.CoalesceStreamsPreprocessor.enabled = True  # progress bars: the last state of each line, as Jupyter shows it
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {"remove_cell"}
    c.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"remove_output"}
    return _Exporter(config=c, extra_template_basedirs=[str(TOOLS)], template_name="docs_template",
                     embed_images=True, exclude_input_prompt=True, exclude_output_prompt=True)


def _groups(pages: list) -> dict:
    "Pages other than the index by folder, as nbdev's sidebar.yml groups them: {label: [Page]}."
    groups = {}
    for p in pages:
        if p.html.as_posix() != "index.html":
            groups.setdefault(p.section.replace("_", " ").capitalize() or "Reference", []).append(p)
    return groups


def _nav(page: Page, pages: list) -> list:
    "The navigation bar's groups: (label, [(title, href, is_current)])."
    return [(label, [(p.title, page.rel(p.html.as_posix()), p is page) for p in ps]) for label, ps in _groups(pages).items()]


def to_html(nb, page: Page, pages: list) -> str:
    resources = {"metadata": {"name": page.title, "path": str((NBS / page.nb).parent)},
                 "site_nav": _nav(page, pages), "site_home": page.rel("index.html"),
                 "site_title": CFG.title, "site_mathjax": page.rel(MATHJAX)}
    html, _ = _exporter().from_notebook_node(nb, resources=resources)
    return html


def build_page(page: Page, pages: list, executed=None) -> dict:
    "Execute (or read from the folder `executed`), process and write one page; what the index needs from it."
    t0 = time.time()
    if executed and executed_path(executed, page.nb).exists(): nb, error = read_executed(page.nb, executed)
    else: nb, error = execute(page.nb)
    try: out = process(nb, page)
    except Exception as e:  # reported with the notebook's name; the other pages are still built
        return {"nb": str(page.nb), "error": f"{type(e).__name__}: {e}\n{e.__cause__ or ''}", "figure": None,
                "seconds": time.time() - t0, "processed": None}
    figure = next((o.data["image/png"] for c in out.cells for o in c.get("outputs", [])
                   if "image/png" in o.get("data", {})), None)
    if page.html.as_posix() != "index.html":  # the index is written last, with the list of pages
        dest = DOCS / page.html
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(to_html(out, page, pages))
    return {"nb": str(page.nb), "error": error, "figure": figure, "seconds": time.time() - t0,
            "processed": out if page.html.as_posix() == "index.html" else None}


# ---- 4. the index -------------------------------------------------------------------------------

def _thumbnail(png_b64: str) -> str:
    return f"![]({'data:image/png;base64,' + png_b64.strip()})"


def pages_section(pages: list, built: dict) -> str:
    "Markdown listing every page, with the first figure of each page outside the reference."
    md = ["## Pages", ""]
    for label, ps in _groups(pages).items():
        md += [f"### {label}", "", "| page | what |", "|---|---|"]
        for p in ps:
            href, fig = p.html.as_posix(), built[str(p.nb)]["figure"] if p.section else None
            md.append(f"| [{p.title}]({href})" + (f"<br>[{_thumbnail(fig)}]({href})" if fig else "") + f" | {p.description} |")
        md.append("")
    return "\n".join(md)


def build(jobs: int = 2, site_only: bool = False, executed=None) -> dict:
    t0 = time.time()
    pages = find_pages()
    shutil.rmtree(DOCS, ignore_errors=True)
    DOCS.mkdir(parents=True)
    index = next(p for p in pages if p.html.as_posix() == "index.html")
    # A fresh process per page: nbdev's show_doc shell takes over the process's __main__.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        built = {}
        for f in as_completed([pool.submit(build_page, p, pages, executed) for p in pages]):
            nb = f.result()["nb"]
            built[nb] = f.result()
            print(f"{nb:40s} {built[nb]['seconds']:6.1f} s{'  FAILED' if built[nb]['error'] else ''}", flush=True)
    out = built[str(index.nb)]["processed"]
    if out is not None:
        out.cells.append(nbformat.v4.new_markdown_cell(pages_section(pages, built)))
        (DOCS / "index.html").write_text(to_html(out, index, pages))
    import jupyter_server_mathjax
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", DOCS / "mathjax")
    if not site_only:
        (ROOT / "README.md").write_text(render_readme())
        from nbdev.quarto import nbdev_sidebar, refresh_quarto_yml
        cwd = os.getcwd(); os.chdir(ROOT)
        try: refresh_quarto_yml(); nbdev_sidebar.__wrapped__()  # what nbdev_docs refreshes before quarto runs
        finally: os.chdir(cwd)
    failed = {nb: b["error"] for nb, b in built.items() if b["error"]}
    return {"pages": [p.html.as_posix() for p in pages], "seconds": time.time() - t0, "failed": failed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed at the same time")
    ap.add_argument("--site-only", action="store_true", help="leave README.md and nbs/*.yml alone")
    ap.add_argument("--from-executed", metavar="DIR", help="read the executed notebooks `execute_to` saved in DIR "
                    "(a notebook missing there is executed)")
    args = ap.parse_args()
    res = build(args.jobs, args.site_only, args.from_executed and str(Path(args.from_executed).resolve()))
    print(f"built {len(res['pages'])} pages into {DOCS.relative_to(ROOT)}/ in {res['seconds']:.0f} s: {' '.join(res['pages'])}")
    for nb, err in res["failed"].items(): print(f"\n{nb} raised:\n{err}", file=sys.stderr)
    sys.exit(1 if res["failed"] else 0)


if __name__ == "__main__":
    import docs  # run as the importable module, so that the worker processes find its functions
    docs.main()
