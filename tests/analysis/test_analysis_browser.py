"""index.html in headless Chromium: every point rendered, hover tooltip, non-blank screenshot.

Drives Debian's ``chromium`` over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
fd 3 in, fd 4 out, NUL-separated JSON), so no websocket client or driver package is needed.
Skipped where /usr/bin/chromium is absent; CI installs it (``apt-get install -y chromium``).
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from analysis_fixtures import CAP_FRONT
from analysis_fixtures import SMP_FRONT

from analysis.cli import main

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, profile: Path) -> None:
        to_child, self._send = os.pipe()
        self._recv, from_child = os.pipe()

        def wire() -> None:  # in the child: the pipe ends become fd 3 (read) and fd 4 (write)
            a = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=wire, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._id = 0
        self.session: str | None = None

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._send, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _next(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._recv], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._recv, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the debugging pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=1200, height=1400,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while self.js("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            time.sleep(0.1)

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._send)
        os.close(self._recv)


@pytest.fixture
def page(sst2_experiments, tmp_path: Path):
    out = tmp_path / "report"
    assert main(["pareto", *map(str, sst2_experiments.values()), "--out", str(out)]) == 0
    browser = DevTools(tmp_path / "profile")
    try:
        browser.open((out / "index.html").as_uri())
        yield browser
    finally:
        browser.close()


def test_report_renders_every_point_with_a_tooltip_and_a_visible_plot(page: DevTools) -> None:
    rendered = page.js(
        "Array.from(document.querySelectorAll('circle.point')).filter("
        "c => { const b = c.getBoundingClientRect(); return b.width > 0 && b.height > 0; })"
        ".map(c => [c.dataset.trialId, c.dataset.front])")
    assert len(rendered) == 9  # completed trials of cap (5), smp (3) and dense (1)
    assert {t for t, f in rendered if f == "1"} == CAP_FRONT | SMP_FRONT | {"d1"}
    assert page.js("document.querySelectorAll('path.front').length") == 2

    box = page.js("(() => { const c = document.querySelector('circle[data-trial-id=\"c2\"]');"
                  " c.scrollIntoView(); const b = c.getBoundingClientRect();"
                  " return [b.x + b.width / 2, b.y + b.height / 2]; })()")
    page.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
    tip = page.js("(() => { const t = document.getElementById('tip');"
                  " return [getComputedStyle(t).display, t.textContent]; })()")
    assert tip[0] == "block"
    assert tip[1].startswith("trial c2  (knee)") and "param_lr = 0.0002" in tip[1]

    page.js("window.scrollTo(0, 0)")
    shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(shot)).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 20)
    non_white = sum(n for n, rgb in colors if rgb != (255, 255, 255))
    assert len(colors) > 20 and non_white > 0.02 * image.width * image.height


def test_reference_lines_and_the_front_across_methods_are_drawn(page: DevTools) -> None:
    lines = page.js(
        "Array.from(document.querySelectorAll('line.baseline')).map(l => {"
        " const b = l.getBoundingClientRect(); return [l.dataset.kind, b.width]; })")
    assert sorted(k for k, _ in lines) == ["dense", "majority"] and all(w > 300 for _, w in lines)
    labels = page.js("Array.from(document.querySelectorAll('svg.pareto text'))"
                     ".map(t => t.textContent)")
    assert "majority class 0.5092" in labels and "dense fine-tune 0.92" in labels
    band = page.js("(() => { const p = document.querySelector('path.task-front');"
                   " const b = p.getBoundingClientRect(); return [b.width, b.height]; })()")
    assert band[0] > 100 and band[1] > 10
