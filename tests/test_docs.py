"""The documentation site: `tools/docs.py` builds it from the notebooks, a server on 127.0.0.1 serves
_docs/, and headless Chromium reads every page. What is asserted comes from the rendered DOM: the
title, images that loaded, internal links that resolve (a missing #anchor is a warning), the
navigation bar, nothing loaded from outside the site, typeset equations; on the index and the
tutorials also at least one figure and no traceback. One full-page screenshot per page goes to
_docs/screenshots/ for people to look at.

The site is built once for this module (every notebook is executed: about 6 minutes on 2 cores)."""
import base64, functools, http.server, json, os, shutil, subprocess, sys, tempfile, threading, time, urllib.request, warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "_docs"
sys.path.insert(0, str(ROOT / "tools"))
from docs import find_pages  # noqa: E402

PAGES = find_pages()
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900"]


def _for_readers(page) -> bool:
    """The index (a figure of each tutorial next to its link) and the tutorials show at least one figure
    and no traceback. A module notebook may print one on purpose: 08_benchmark shows what a failing
    subprocess reports. A cell that raises fails the build on every page."""
    return page.html.as_posix() == "index.html" or page.section == "tutorials"


@pytest.fixture(scope="module")
def site():
    t0 = time.time()
    run = subprocess.run([sys.executable, "tools/docs.py", "--site-only"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    print(f"\n{run.stdout.strip().splitlines()[-1]} (wall {time.time() - t0:.0f} s)")
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


class Tab:
    "The smallest Chrome DevTools Protocol client: commands, one event to wait for, JavaScript to evaluate."
    def __init__(self, ws_url):
        import websocket
        self.ws = websocket.create_connection(ws_url, timeout=120, suppress_origin=True)
        self.n, self.events = 0, []

    def send(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                if "error" in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg.get("method"))

    def wait_for(self, event, timeout=60):
        deadline = time.time() + timeout
        while event not in self.events:
            assert time.time() < deadline, f"no {event} within {timeout} s"
            self.events.append(json.loads(self.ws.recv()).get("method"))
        self.events.clear()

    def evaluate(self, js):
        res = self.send("Runtime.evaluate", expression=js, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in res: raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def open(self, url):
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def screenshot(self, path: Path, max_height=20000):
        "The whole page, 1280 px wide."
        height = min(int(self.send("Page.getLayoutMetrics")["cssContentSize"]["height"]), max_height)
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture(scope="module")
def chromium():
    "Checked before the site is built."
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"): pytest.fail(f"no chromium at {CHROMIUM}: .ci/run installs Debian's chromium package")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def tab(chromium, server):
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file, deadline = Path(profile) / "DevToolsActivePort", time.time() + 60
            while not (port_file.exists() and port_file.read_text().strip()):
                assert proc.poll() is None and time.time() < deadline, "chromium did not start"
                time.sleep(0.2)
            port = int(port_file.read_text().split()[0])
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
            t = Tab(next(x["webSocketDebuggerUrl"] for x in targets if x["type"] == "page"))
            t.send("Page.enable")
            t.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
            yield t
            t.ws.close()
        finally:
            proc.terminate()
            try: proc.wait(20)
            except subprocess.TimeoutExpired: proc.kill(); proc.wait()


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
    tab.open(server + page.html.as_posix())
    dom = tab.evaluate(INSPECT)
    tab.screenshot(site / "screenshots" / (page.html.as_posix().replace("/", "_").removesuffix(".html") + ".png"))

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
    tab.open(server + "index.html")
    hrefs = set(tab.evaluate("[...document.querySelectorAll('main a[href]')].map(a => a.getAttribute('href'))"))
    assert {p.html.as_posix() for p in PAGES if p.html.as_posix() != "index.html"} <= hrefs
