"""The documentation site: `tools/docs.py` builds it from the notebooks, a server on 127.0.0.1 serves
_docs/, and headless Chromium (Debian's, driven through playwright) reads every page. What is
asserted comes from the rendered DOM: the title, images that loaded, internal links that resolve (a missing #anchor is a warning), the
navigation bar, nothing loaded from outside the site, typeset equations; on the index and the
tutorials also at least one figure and no traceback. One full-page screenshot per page goes to
_docs/screenshots/ for people to look at.

The site is built once for this module, from the notebooks tests/test_notebooks.py executed (conftest's
`execute_once`; this module runs after it, and executes itself any notebook no test has executed yet, e.g.
when it runs alone): nbdev's processing and the HTML of 22 pages, about a minute on 2 cores.
With pytest-xdist its tests form one group (conftest's `_group`), so the site is built once, on one worker."""
import functools, http.server, os, shutil, subprocess, sys, threading, time, warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "_docs"
sys.path.insert(0, str(ROOT / "tools"))
from docs import find_pages  # noqa: E402
from conftest import EXECUTED, execute_all  # noqa: E402

PAGES = find_pages()
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars"]


def _for_readers(page) -> bool:
    """The index (a figure of each tutorial next to its link) and the tutorials show at least one figure
    and no traceback. A module notebook may print one on purpose: 08_benchmark shows what a failing
    subprocess reports. A cell that raises fails the build on every page."""
    return page.html.as_posix() == "index.html" or page.section == "tutorials"


@pytest.fixture(scope="module")
def site():
    t0 = time.time()
    here = [nb for nb, run in execute_all([p.nb.as_posix() for p in PAGES]).items() if run["here"]]
    t1 = time.time()
    run = subprocess.run([sys.executable, "tools/docs.py", "--site-only", "--from-executed", str(EXECUTED)],
                         cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    print(f"\n{len(here)} notebooks executed here ({t1 - t0:.0f} s), the others by their tests; "
          f"{run.stdout.strip().splitlines()[-1]} (wall {time.time() - t1:.0f} s)")
    (DOCS / "screenshots").mkdir()
    return DOCS


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope="module")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


@pytest.fixture(scope="module")
def chromium():
    "Checked before the site is built."
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"): pytest.fail(f"no chromium at {CHROMIUM}: .ci/run installs Debian's chromium package")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def tab(chromium, server):
    "A page of Debian's Chromium driven by playwright (it cannot download its own browsers here)."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            page.set_default_timeout(120_000)
            yield page
        finally:
            browser.close()


# Runs in the page once it has loaded: waits for MathJax and the images, then reads the DOM.
INSPECT = r"""(async () => {
  if (window.MathJax && MathJax.Hub) await new Promise(done => MathJax.Hub.Queue(done));
  await Promise.all([...document.images].map(i => i.complete ? null : new Promise(done => { i.onload = i.onerror = done; })));
  const here = location.origin, pages = {}, links = [];
  for (const a of document.querySelectorAll('a[href]')) {
    const url = new URL(a.getAttribute('href'), location.href);
    if (url.origin !== here) continue;
    const page = url.href.split('#')[0], anchor = url.hash.slice(1);
    if (!(page in pages)) {
      const r = await fetch(page);
      const doc = r.ok ? new DOMParser().parseFromString(await r.text(), 'text/html') : null;
      pages[page] = {status: r.status, ids: doc ? new Set([...doc.querySelectorAll('[id]')].map(e => e.id)) : new Set()};
    }
    const target = pages[page];
    // the fragment as written or decoded, as the browser looks for it (HTML's "find a potential indicated element")
    const found = !anchor || target.ids.has(anchor) || target.ids.has(decodeURIComponent(anchor));
    links.push({href: a.getAttribute('href'), status: target.status, anchor: found});
  }
  const outside = u => u && !u.startsWith(here) && !u.startsWith('data:') && !u.startsWith('about:');
  return {
    title: document.title,
    h1: (document.querySelector('main h1') || {}).textContent || '',
    figures: [...document.querySelectorAll('main img')].map(i => i.naturalWidth),
    tracebacks: [...document.querySelectorAll('.jp-OutputArea-output')]
                  .filter(o => o.textContent.includes('Traceback (most recent call last)')).map(o => o.textContent.slice(0, 500)),
    nav: [...document.querySelectorAll('nav.site-nav a[href]')].map(a => a.getAttribute('href')),
    links: links,
    external: [...performance.getEntriesByType('resource').map(e => e.name),
               ...[...document.querySelectorAll('script[src], link[rel~="stylesheet"], img[src], iframe[src]')].map(e => e.src || e.href)]
              .filter(outside),
    mathjax: !!(window.MathJax && MathJax.isReady),
    tex: document.querySelectorAll('main script[type^="math/tex"]').length,
    typeset: document.querySelectorAll('main .MathJax, main .MathJax_Display').length,
    math_errors: document.querySelectorAll('main .MathJax_Error, main merror').length,
  };
})()"""


@pytest.mark.parametrize("page", PAGES, ids=[p.html.as_posix() for p in PAGES])
def test_page_in_browser(page, tab, server, site):
    tab.goto(server + page.html.as_posix(), wait_until="load")
    dom = tab.evaluate(INSPECT)
    tab.screenshot(path=site / "screenshots" / (page.html.as_posix().replace("/", "_").removesuffix(".html") + ".png"), full_page=True)

    assert dom["title"] == page.title and dom["h1"].startswith(page.title), (dom["title"], dom["h1"], page.title)
    if _for_readers(page):
        assert not dom["tracebacks"], dom["tracebacks"]
        assert any(w > 0 for w in dom["figures"]), f"no figure loaded on {page.html}: naturalWidths {dom['figures']}"
    assert all(w > 0 for w in dom["figures"]), f"images that did not load on {page.html}: naturalWidths {dom['figures']}"
    # the navigation bar reaches every page but the index, which its title links to
    assert len(dom["nav"]) == len(PAGES), dom["nav"]
    broken = [l for l in dom["links"] if l["status"] != 200]
    assert not broken, f"links on {page.html} to pages that do not exist: {broken}"
    # A link to a symbol without a show_doc (nbdev links every `name` it knows) lands at the top of its page.
    for link in dom["links"]:
        if not link["anchor"]: warnings.warn(f"{page.html}: {link['href']} has no such anchor")
    assert not dom["external"], f"loaded from outside the site: {dom['external']}"
    assert dom["mathjax"], "MathJax did not load from the site"
    assert dom["math_errors"] == 0
    if dom["tex"]: assert dom["typeset"] > 0, "MathJax did not typeset the equations"


def test_index_links_every_page(tab, server):
    tab.goto(server + "index.html", wait_until="load")
    hrefs = set(tab.evaluate("[...document.querySelectorAll('main a[href]')].map(a => a.getAttribute('href'))"))
    assert {p.html.as_posix() for p in PAGES if p.html.as_posix() != "index.html"} <= hrefs
