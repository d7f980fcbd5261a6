"""Check the built docs site (`_docs/`, from `nbdev-docs`) in a real browser: headless Chromium through Playwright.

Served from a local HTTP server (nothing leaves the machine; a request to any other host is refused and counted), it checks
- every notebook is in the sidebar (`nbs/sidebar.yml`), and every page of the sidebar is in the built site's sidebar and
  loads (HTTP 200, no script error);
- no page shows a Python traceback or an error output (`.cell-output-error`, `Traceback (most recent call last)`);
- every internal link resolves: the file exists and its `#anchor` is an id on that page (links to the site's own URL,
  `site-url`, are internal too); every image loads (the browser decoded it: `naturalWidth > 0`);
- every formula is rendered (MathML written at build time; no raw `\\(...\\)` left on a page);
- each API page lists its module's public names (`__all__`'s functions and classes defined there) as `show_doc` entries;
- the home page shows the layer-wise verdict as a table within its first two screens;
and keeps screenshots of the home page and of the `LayerwiseLR` page in `--shots` (git-ignored) for a person to look at.
Exits 1 and lists every problem when any check fails.

    python tools/check_site.py [--site _docs] [--shots .ci/out/site]
"""
import argparse, functools, http.server, importlib, inspect, re, sys, threading, yaml
from pathlib import Path
from urllib.parse import urljoin, urlparse, unquote

root = Path(__file__).resolve().parents[1]
# Quarto adds require.js and jQuery from a CDN to every page with an HTML cell output (a pandas table), for JavaScript
# widgets the pages do not have (quarto-cli src/core/jupyter/widgets.ts); offline they fail harmlessly: allowed, counted.
ALLOWED_OUTSIDE = ('https://cdn.jsdelivr.net/npm/jquery@', 'https://cdn.jsdelivr.net/npm/requirejs@')
ALLOWED_ERRORS = ('define is not defined',)   # the inline `define('jquery', ...)` Quarto adds after require.js
VIEWPORT = dict(width=1280, height=800)
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']

def serve(site:Path):
    "A local HTTP server for `site` on a free port, in a thread: (server, base url)"
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f'http://127.0.0.1:{httpd.server_address[1]}/'

def sidebar_pages()->list:
    "The html page of every notebook listed in `nbs/sidebar.yml` (its output name: `default_exp`'s module, or the notebook's stem)"
    def walk(items):
        for it in items:
            if isinstance(it, dict): yield from walk(it.get('contents', []))
            else: yield it
    nbs = list(walk(yaml.safe_load((root/'nbs/sidebar.yml').read_text())['website']['sidebar']['contents']))
    return [page_name(root/'nbs'/nb) for nb in nbs]

def page_name(nb:Path)->str:
    "The html file nbdev-docs writes for notebook `nb`: its stem without the number (nbdev's `nbpath2html`)"
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', nb.stem.lower()) + '.html'

def api_pages()->dict:
    "page -> (module, the public functions and classes defined in it), for every notebook with a `default_exp`"
    res = {}
    for nb in sorted((root/'nbs').glob('*.ipynb')):
        m = re.search(r'#\|\s*default_exp\s+([\w.]+)', nb.read_text())
        if not m: continue
        name = f'layerkd_nb.{m.group(1)}'
        mod = importlib.import_module(name)
        public = [n for n in getattr(mod, '__all__', []) if (inspect.isfunction(o := getattr(mod, n)) or inspect.isclass(o))
                  and getattr(o, '__module__', None) == name]
        res[page_name(nb)] = (name, public)
    return res

def site_url()->str:
    "The site's own public URL (`site-url` in `nbs/nbdev.yml`): links to it are internal links"
    return yaml.safe_load((root/'nbs/nbdev.yml').read_text())['website'].get('site-url', '').rstrip('/') + '/'

def ids_of(path:Path, cache={})->set:
    "Every `id` and `data-anchor-id` in the html file at `path`"
    if path not in cache: cache[path] = set(re.findall(r'\b(?:id|data-anchor-id)="([^"]+)"', path.read_text(errors='replace')))
    return cache[path]

def check_link(site:Path, base:str, page_url:str, href:str, public:str)->str:
    "None if `href` (from the page at `page_url`) resolves inside `site`, else what is wrong; external links are not checked"
    if href.startswith(('mailto:', 'javascript:', 'data:')): return None
    url = urljoin(page_url, href)
    if public != '/' and url.startswith(public): url = base + url[len(public):]
    if not url.startswith(base): return None   # another site (GitHub, arXiv, ...): not ours to check offline
    u = urlparse(url)
    rel = unquote(u.path)[len(urlparse(base).path):]
    target = site/rel
    if target.is_dir() or rel == '': target = target/'index.html'
    if not target.exists(): return f'{href}: no file {target.relative_to(site)}'
    if u.fragment and target.suffix == '.html' and unquote(u.fragment) not in ids_of(target):
        return f'{href}: no anchor #{u.fragment} in {target.relative_to(site)}'
    return None

PAGE_JS = """() => {
  const imgs = [...document.querySelectorAll('img')].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  const main = document.querySelector('main') || document.body;
  const errors = [...document.querySelectorAll('.cell-output-error')].map(e => e.innerText.slice(0, 200));
  const raw_math = [...main.querySelectorAll('span.math')].filter(s => !s.querySelector('math')).map(s => s.innerText.slice(0, 80));
  const headings = [...main.querySelectorAll('h2, h3, h4')].map(h => h.textContent.trim());
  const sidebar = [...document.querySelectorAll('#quarto-sidebar a.sidebar-link')].map(a => a.getAttribute('href'));
  return {imgs, links, errors, raw_math, headings, sidebar, text: main.innerText, title: document.title};
}"""

INDEX_JS = """() => {
  const h = [...document.querySelectorAll('main h2')].find(h => /^\\s*results\\b/i.test(h.textContent));
  const section = h ? (h.closest('section') || h.parentElement) : null;
  const table = section ? section.querySelector('table') : null;
  const example = [...document.querySelectorAll('main pre')].find(p => /Learner\\(/.test(p.textContent)
    && /cbs\\s*=\\s*\\[\\s*MapDistillation\\(/.test(p.textContent) && /LayerwiseLR\\(/.test(p.textContent));
  return {heading: h ? h.textContent.trim() : null, rows: table ? table.querySelectorAll('tbody tr').length : null,
          example: example ? example.getBoundingClientRect().top + window.scrollY : null};
}"""

def check_site(site:Path, shots:Path)->list:
    "Every problem found in the built site at `site` (an empty list: it passes); screenshots go to `shots`"
    from playwright.sync_api import sync_playwright
    problems, httpd = [], None
    if not (site/'index.html').exists(): return [f'{site}/index.html is missing: run nbdev-docs first']
    httpd, base = serve(site)
    public = site_url()
    pages, apis = sidebar_pages(), api_pages()
    listed = set(pages)
    problems += [f'nbs/{nb.name} is not in nbs/sidebar.yml: its page cannot be reached from the sidebar (add it there)'
                 for nb in sorted((root/'nbs').glob('*.ipynb')) if page_name(nb) not in listed]
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path='/usr/bin/chromium', args=ARGS)
            ctx = browser.new_context(viewport=VIEWPORT)
            outside = []
            ctx.route(re.compile(r'^(?!http://127\.0\.0\.1:).*'), lambda route: (outside.append(route.request.url), route.abort()))
            for name in pages:
                page, bad = ctx.new_page(), []
                page.on('pageerror', lambda e, bad=bad: any(a in str(e) for a in ALLOWED_ERRORS) or bad.append(f'script error: {e}'))
                page.on('response', lambda r, bad=bad: r.status >= 400 and bad.append(f'HTTP {r.status} for {r.url}'))
                page.on('requestfailed', lambda r, bad=bad: r.url.startswith(base) and bad.append(f'failed request {r.url}'))
                resp = page.goto(base + name, wait_until='load')
                if resp is None or resp.status != 200:
                    problems.append(f'{name}: does not load (HTTP {resp and resp.status})'); page.close(); continue
                page.wait_for_load_state('networkidle')
                info = page.evaluate(PAGE_JS)
                problems += [f'{name}: {b}' for b in bad]
                if name == 'index.html':
                    missing = [q for q in pages if q != 'index.html' and not any(s and s.split('#')[0].endswith(q) for s in info['sidebar'])]
                    problems += [f'index.html: the sidebar has no link to {q}' for q in missing]
                problems += [f'{name}: error output: {e!r}' for e in info['errors']]
                if 'Traceback (most recent call last)' in info['text']: problems.append(f'{name}: shows a Python traceback')
                problems += [f'{name}: image does not load: {i["src"]}' for i in info['imgs'] if not i['ok']]
                problems += [f'{name}: formula not rendered: {m!r}' for m in info['raw_math']]
                if re.search(r'\\\(|\\\[', info['text']): problems.append(f'{name}: raw LaTeX delimiters in the text')
                for href in dict.fromkeys(info['links']):
                    err = check_link(site, base, base + name, href, public)
                    if err: problems.append(f'{name}: broken link {err}')
                if name in apis:
                    module, public_names = apis[name]
                    shown = {h.replace(' *source*', '').strip() for h in info['headings']}
                    problems += [f'{name}: {module}.{n} has no show_doc entry' for n in public_names if n not in shown]
                if name == 'index.html':
                    v = page.evaluate(INDEX_JS)   # the home page: its results table, and the callbacks' example up front
                    if v['heading'] is None: problems.append('index.html: no section headed "Results ..."')
                    elif v['rows'] is None: problems.append(f'index.html: the section {v["heading"]!r} has no table')
                    elif v['rows'] < 5: problems.append(f'index.html: the results table has {v["rows"]} rows, fewer than the 5 methods')
                    if v['example'] is None:
                        problems.append('index.html: no code block with Learner(..., cbs=[MapDistillation(...), LayerwiseLR(...)])')
                    elif v['example'] > 2*VIEWPORT['height']:
                        problems.append(f'index.html: the callbacks\' example starts {v["example"]:.0f} px down, below the first two '
                                        f'screens ({2*VIEWPORT["height"]} px)')
                    page.screenshot(path=str(shots/'index.png'))
                    page.screenshot(path=str(shots/'index-full.png'), full_page=True)
                if name == 'callbacks.layerwise.html':
                    page.goto(base + 'callbacks.layerwise.html#layerwiselr'); page.wait_for_load_state('networkidle')
                    page.screenshot(path=str(shots/'layerwise-LayerwiseLR.png'))
                print(f'{name}: {len(info["links"])} links, {len(info["imgs"])} images'
                      + (f', {len(apis[name][1])} public names' if name in apis else ''), flush=True)
                page.close()
            outside = list(dict.fromkeys(outside))
            problems += [f'request to another host (the site must work offline): {u}' for u in outside
                         if not u.startswith(ALLOWED_OUTSIDE)]
            allowed = [u for u in outside if u.startswith(ALLOWED_OUTSIDE)]
            if allowed: print(f'allowed, blocked: {len(allowed)} CDN script(s) Quarto adds for HTML cell outputs ({", ".join(allowed)})')
            browser.close()
    finally: httpd.shutdown()
    return problems

if __name__ == '__main__':
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument('--site', default=str(root/'_docs')); a.add_argument('--shots', default=str(root/'.ci/out/site'))
    a = a.parse_args()
    problems = check_site(Path(a.site), Path(a.shots))
    for p in problems: print('FAIL', p)
    print(f'site check: {len(problems)} problem(s); screenshots in {a.shots}')
    sys.exit(1 if problems else 0)
