"""Web UI benchmarks of issue 12, every figure measured in this run against the firmware on
the unix port (tools/sim.py) fed with changing DSMR 5 telegrams once a second.

- Size on the wire: the page, its script and its style sheet as the device sends them
  (gzip-compressed at build time), fetched over HTTPS; goal <= 24 KB together. The peer:
  the same three files uncompressed.
- Time to the first live value in Chromium (headless, the browser of the UI tests):
  navigation start -> the first net power rendered from the event stream, for a browser
  that holds a session (a reload), and from pressing "Log in" on the login form. The
  peer: one HTTPS request from CPython (a TLS handshake and one answer), the floor of any
  page load; the ratio says how many of those the first value costs.
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "host_tests", "core"),
                os.path.join(ROOT, "tools")]

from test_ui_chromium import Page, chromium  # noqa: E402

import webassets  # noqa: E402
from simfw import Sim, metersim  # noqa: E402
from webclient import Client, password  # noqa: E402

GOAL_BYTES = 24 * 1024
ROUNDS = 7
# Installed before the page's own script: the time (ms after navigation start) when #pw
# first shows a number, and when the login form was submitted. No hook in app.js.
PROBE = """
document.addEventListener("submit", () => { window.pressed = performance.now(); }, true);
new MutationObserver((m, obs) => {
  const e = document.getElementById("pw");
  if (e && /\\d/.test(e.textContent)) { window.firstValue = performance.now(); obs.disconnect(); }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def wire_sizes(client):
    """{path: (gzipped body bytes, header bytes)} as the device answers a browser."""
    out = {}
    for path in ("/", "/app.js", "/app.css"):
        status, headers, body = client.request("GET", path, auth=False,
                                               headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers["content-encoding"] == "gzip", (path, status)
        out[path] = (len(body), sum(len(k) + len(v) + 4 for k, v in headers.items()) + 19)
    return out


def first_value(page, login=None):
    """ms from navigation start (or from pressing Log in) to the first net power shown."""
    page.open()
    if login:
        page.login(login)
    page.wait(lambda: page.d.execute_script("return window.firstValue"), timeout=30)
    return page.d.execute_script("return window.firstValue - (window.pressed || 0)")


def median_best(values):
    return statistics.median(values), min(values)


def main():
    tmp = tempfile.mkdtemp(prefix="sc-bench-ui-")
    sim = Sim(os.path.join(tmp, "flash"), status_every=0)
    driver = None
    try:
        sim.meter(metersim.synthetic(600, seed=5), interval=1)
        client = Client(sim, os.path.join(tmp, "flash"))
        sizes = wire_sizes(client)
        raw = {p: len(open(os.path.join(webassets.SRC, n), "rb").read())
               for p, n, _ in webassets.FILES}
        # The peer: one HTTPS request from CPython, a new TLS session each time.
        https = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            assert client.request("GET", "/api", auth=False)[0] == 200
            https.append((time.perf_counter() - t0) * 1000)

        driver = chromium(os.path.join(tmp, "chromium"),
                          os.path.join(tmp, "flash", "ca", "ca.crt"))
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        page = Page(driver, "https://smart-connect.local:%d/" % sim.https_port)
        pw = password(os.path.join(tmp, "flash"))
        logins, reloads = [], []
        for _ in range(ROUNDS):
            logins.append(first_value(page, pw))
            for _ in range(2):
                reloads.append(first_value(page))
            page.el("#logout").click()
            page.shown("#login")
    finally:
        if driver:
            driver.quit()
        sim.close()
        shutil.rmtree(tmp, ignore_errors=True)

    total = sum(b for b, _ in sizes.values())
    print("Web UI on the wire (HTTPS, gzip-compressed at build time):")
    for path, (body, head) in sizes.items():
        print("  %-8s %6d bytes gzipped (+%d header bytes), %6d bytes uncompressed"
              % (path, body, head, raw[path]))
    print("  total    %6d bytes gzipped (%.1f KB, %.1fx smaller than uncompressed, %d bytes "
          "with headers)  goal <= 24 KB: %s"
          % (total, total / 1024, sum(raw.values()) / total,
             total + sum(h for _, h in sizes.values()),
             "meets goal" if total <= GOAL_BYTES else "MISSES goal"))
    r_med, r_best = median_best(reloads)
    l_med, l_best = median_best(logins)
    h_med, h_best = median_best(https)
    print("Time to the first live value in Chromium (firmware on the unix port, %d runs):"
          % len(reloads))
    print("  page load with a session -> net power shown: median %6.0f ms, best %6.0f ms "
          "(%.1fx one HTTPS request)" % (r_med, r_best, r_med / h_med))
    print("  Log in pressed -> net power shown:           median %6.0f ms, best %6.0f ms "
          "(%.1fx one HTTPS request)" % (l_med, l_best, l_med / h_med))
    print("  peer: one HTTPS request from CPython (new TLS session): median %.0f ms, best "
          "%.0f ms" % (h_med, h_best))
    return 0 if total <= GOAL_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
