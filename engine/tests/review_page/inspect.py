"""What a person sees of a page at a given screen width, asked of headless Chromium over
the DevTools protocol (on a pipe: no port, no network; Python's standard library only).

    python3 inspect.py CHROMIUM FILE.html WIDTH HEIGHT

prints one JSON object: `text` (document.body.innerText), `page_width` and
`viewport_width` (the document scrolls sideways when the first is larger), and
`overflows`: each element whose content is wider than its box while its overflow is not
visible (clipped or scrolled away), or that ends past the screen's right edge.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

PROBE = r"""
(() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\s+/g, ".") : "");
  for (const el of document.body.querySelectorAll("*")) {
    const cs = getComputedStyle(el);
    if (cs.display === "none") continue;
    const r = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 && cs.overflowX !== "visible" && el.clientWidth > 0) {
      out.push(`${name(el)}: content ${el.scrollWidth}px wide in a ${el.clientWidth}px box (overflow-x: ${cs.overflowX})`);
    }
    if (r.right > vw + 1) {
      out.push(`${name(el)}: ends at ${Math.round(r.right)}px, past the ${vw}px screen`);
    }
  }
  return JSON.stringify({
    text: document.body.innerText,
    page_width: document.documentElement.scrollWidth,
    viewport_width: vw,
    overflows: out,
  });
})()
"""


def main():
    chromium, page, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    # Chromium reads commands from its fd 3 and writes replies to its fd 4.
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()

    def fds():
        # Through fresh numbers first: either pipe end may itself be 3 or 4.
        r, w = os.dup(to_child_r), os.dup(from_child_w)
        os.dup2(r, 3)
        os.dup2(w, 4)

    with tempfile.TemporaryDirectory() as profile:
        child = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-sync",
             "--disable-background-networking", "--disable-component-update",
             "--hide-scrollbars", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Kept open across exec: the child closes every other descriptor after fds().
            preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        out = os.fdopen(to_child_w, "wb")
        inp = os.fdopen(from_child_r, "rb")
        buf = b""
        next_id = 0

        def call(method, params=None, session=None):
            nonlocal buf, next_id
            next_id += 1
            msg = {"id": next_id, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            out.write(json.dumps(msg).encode() + b"\0")
            out.flush()
            while True:
                while b"\0" not in buf:
                    chunk = inp.read1(65536)
                    if not chunk:
                        raise SystemExit(f"chromium closed the pipe during {method}")
                    buf += chunk
                raw, buf = buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == next_id:
                    if "error" in reply:
                        raise SystemExit(f"{method}: {reply['error']}")
                    return reply["result"]

        try:
            target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
                 session)
            url = pathlib.Path(os.path.abspath(page)).as_uri()
            call("Page.navigate", {"url": url}, session)
            deadline = time.monotonic() + 60
            while True:
                # The blank page is complete too: wait for the new one.
                state = call("Runtime.evaluate",
                             {"expression": "location.href + ' ' + document.readyState",
                              "returnByValue": True}, session)
                if state["result"].get("value") == url + " complete":
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the page did not finish loading in 60 s")
                time.sleep(0.05)
            result = call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session)
            print(result["result"]["value"])
            try:
                call("Browser.close")
            except SystemExit:
                pass  # it may close the pipe before it answers
        finally:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


if __name__ == "__main__":
    main()
