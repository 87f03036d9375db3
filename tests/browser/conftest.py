"""Real-browser test harness: a real JupyterLab (and Notebook 7) server, headless Chromium, and a
kernel client attached to the notebook's own kernel.

Fixtures
--------
lab           session: a JupyterLab server (``.url``, ``.token``, ``.root``, ``.runtime_dir``)
lab_dark      session: the same in the JupyterLab Dark theme (``.theme == "dark"``)
themed_lab    function, parametrized: ``lab`` then ``lab_dark``
nb7           session: the same for a Notebook 7 server (``python -m notebook``)
browser       session: Playwright Chromium (software WebGL2 through SwiftShader)
page          function: a fresh context (1280x900); ``page.console_errors``, ``page.dialogs``.
              A test fails if its page logged a console error (type "error") or threw, less
              the known noise (``pytest_runtest_call`` below)
console_errors function: ``console_errors(page, server)``: ``page.console_errors`` less the
              known noise of the stock front end (see ``KNOWN_CONSOLE_NOISE``)
open_notebook function: ``open_notebook(page, server, name, cells) -> Notebook``; the kernels it
              started are shut down after the test
screenshot    function: ``screenshot(page, name) -> Path`` (``artifacts/screenshots/<name>.png``)

A :class:`Notebook` has ``.page``, ``.path``, ``.kernel_id``, ``.session_id``, ``.kernel`` (a
:class:`KernelHandle` with ``eval(expr)`` and ``exec(code)`` on the notebook's kernel) and
``.output(i)`` (locator of the i-th code cell's output area).

Every test under ``tests/browser`` gets the ``browser`` marker (``pytest -m "not browser"`` skips
them). Chromium is ``/usr/bin/chromium`` unless ``DASHWIDGETS_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("DASHWIDGETS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",  # software WebGL / WebGL2
    "--enable-unsafe-swiftshader",
]
SERVER_START_TIMEOUT = 120.0
NOTEBOOK_TIMEOUT = 90.0  # page load + kernel start + run all cells


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail a browser test whose page logged a console error or threw an uncaught exception that
    is not known noise of the stock front end (``KNOWN_CONSOLE_NOISE``), even when the test's
    own assertions passed: a view can break in the console while the kernel side looks right."""
    result = yield  # the test's own failure, if any, propagates unchanged
    page = getattr(item, "funcargs", {}).get("page")
    if page is not None and hasattr(page, "console_errors"):
        errors = unexpected_console_errors(page, getattr(page, "server", None))
        if errors:
            raise AssertionError("the page logged console errors:\n" + "\n".join(errors))
    return result


# ====================================================================== servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Quiet, offline front end: no news feed / update check toasts, no telemetry-ish prompts.
_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


_THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


@dataclass
class JupyterServer:
    """A Jupyter server subprocess with its own config/data/runtime dirs (the python env's lab
    extensions, e.g. jupyterlab_widgets and anywidget, stay discoverable through sys.prefix)."""

    app: str  # "lab" or "notebook"
    theme: str = "light"  # "light" or "dark": the front end's theme, set in the user settings
    url: str = ""
    token: str = ""
    root: Path = Path()
    runtime_dir: Path = Path()
    base: Path = Path()
    port: int = 0
    proc: subprocess.Popen | None = None
    log_path: Path = Path()
    _log: object = field(default=None, repr=False)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> JupyterServer:
        self.base = Path(tempfile.mkdtemp(prefix=f"dw-{self.app}-"))
        self.root = self.base / "root"
        self.runtime_dir = self.base / "runtime"
        config_dir = self.base / "config"
        for d in (self.root, self.runtime_dir, config_dir, self.base / "data", self.base / "ipython"):
            d.mkdir(parents=True, exist_ok=True)
        for rel, content in _USER_SETTINGS.items():
            p = config_dir / "lab" / "user-settings" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(content))
        if self.theme != "light":
            p = config_dir / "lab" / "user-settings" / "@jupyterlab/apputils-extension/themes.jupyterlab-settings"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({"theme": _THEMES[self.theme]}))
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("JUPYTER") and k not in ("IPYTHONDIR", "JPY_SESSION_NAME")
        }
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTER_DATA_DIR=str(self.base / "data"),
            JUPYTER_CONFIG_DIR=str(config_dir),
            IPYTHONDIR=str(self.base / "ipython"),
            PYTHONUNBUFFERED="1",
            JUPYTER_PLATFORM_DIRS="0",
        )
        app_cls = "LabApp" if self.app == "lab" else "JupyterNotebookApp"
        module = "jupyterlab" if self.app == "lab" else "notebook"
        cmd = [
            sys.executable, "-m", module,
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",  # CI containers run as root
            f"--{app_cls}.expose_app_in_browser=True",
        ]
        if self.app == "lab":
            cmd += [
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",  # no PyPI queries
            ]
        self.log_path = self.base / "server.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{module} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.api("GET", "/api/status", timeout=2) is not None:
                    return self
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{module} did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{self.log_tail()}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the server shuts its kernels down
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.base, ignore_errors=True)

    # ---------------------------------------------------------------- helpers
    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 10):
        """Call the REST API; returns the decoded JSON (None for an empty body)."""
        sep = "&" if "?" in path else "?"
        req = urllib.request.Request(
            f"{self.url}{path}{sep}token={self.token}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read()
        return json.loads(data) if data else {}

    def notebook_url(self, name: str) -> str:
        quoted = urllib.parse.quote(name)
        if self.app == "lab":
            # a fresh workspace per page: tabs restored from earlier tests must not leak in
            route = f"lab/workspaces/t{secrets.token_hex(4)}/tree"
        else:
            route = "notebooks"
        return f"{self.url}/{route}/{quoted}?token={self.token}"


@pytest.fixture(scope="session")
def lab():
    server = JupyterServer("lab").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lab_dark():
    """A second JupyterLab server whose user settings choose the JupyterLab Dark theme."""
    server = JupyterServer("lab", theme="dark").start()
    yield server
    server.stop()


@pytest.fixture(params=["light", "dark"])
def themed_lab(request):
    """The light and the dark JupyterLab in turn (``server.theme`` says which): a view test that
    takes this fixture runs in both themes."""
    return request.getfixturevalue("lab" if request.param == "light" else "lab_dark")


@pytest.fixture(scope="session")
def nb7():
    pytest.importorskip("notebook", minversion="7")
    server = JupyterServer("notebook").start()
    yield server
    server.stop()


# ====================================================================== browser
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}; install it (Debian: apt-get install chromium) or set "
            "DASHWIDGETS_CHROMIUM, or deselect these tests with -m 'not browser'"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.console_errors = []  # "console error text" and "pageerror: ..." strings
    pg.dialogs = []  # (type, message) of native dialogs, all dismissed

    def on_console(msg):
        if msg.type == "error":
            pg.console_errors.append(msg.text)

    def on_dialog(dialog):
        pg.dialogs.append((dialog.type, dialog.message))
        try:
            dialog.dismiss()
        except Exception:  # noqa: BLE001 - the page may be closing
            pass

    pg.on("console", on_console)
    pg.on("pageerror", lambda err: pg.console_errors.append(f"pageerror: {err}\n{getattr(err, 'stack', '')}"))
    pg.on("dialog", on_dialog)
    yield pg
    context.close()


# Errors the stock front ends log by themselves in this environment (not caused by our code).
KNOWN_CONSOLE_NOISE = {
    "lab": [],
    # Notebook 7.6.5's shortcuts plugin, on every notebook page, with or without widgets
    "notebook": ["Cannot read properties of undefined (reading 'schema')"],
}


def unexpected_console_errors(page, server: JupyterServer | None = None) -> list[str]:
    """``page.console_errors`` less the known noise of ``server``'s front end."""
    noise = KNOWN_CONSOLE_NOISE.get(server.app, []) if server is not None else []
    return [e for e in page.console_errors if not any(n in e for n in noise)]


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def _screenshot(page, name: str) -> Path:
    """Save a PNG of the whole viewport to ``artifacts/screenshots/<name>.png``."""
    path = screenshot_path(name)
    page.screenshot(path=str(path))
    return path


@pytest.fixture
def console_errors():
    """``console_errors(page, server) -> list[str]``: the page's console errors and uncaught
    exceptions, less the known noise of the server's stock front end."""
    return unexpected_console_errors


@pytest.fixture
def screenshot():
    """``screenshot(page, name) -> Path``."""
    return _screenshot


# ====================================================================== kernels and notebooks
class KernelError(RuntimeError):
    """Code run through :class:`KernelHandle` raised in the kernel."""


class KernelHandle:
    """A second client on the notebook's own kernel (``jupyter_client.BlockingKernelClient``)."""

    def __init__(self, connection_file: Path, timeout: float = 30):
        from jupyter_client import BlockingKernelClient

        self.connection_file = connection_file
        self.timeout = timeout
        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=timeout)

    def _request(self, code: str, user_expressions: dict | None = None, timeout: float | None = None):
        timeout = self.timeout if timeout is None else timeout
        msg_id = self.client.execute(
            code, silent=False, store_history=False, user_expressions=user_expressions or {},
            allow_stdin=False,
        )
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply from the kernel within {timeout} s for {code[:200]!r}")
            reply = self.client.get_shell_msg(timeout=left)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        if content["status"] != "ok":
            raise KernelError(f"{content.get('ename')}: {content.get('evalue')}\n" + "\n".join(content.get("traceback", [])))
        return msg_id, content

    def exec(self, code: str, timeout: float | None = None) -> str:
        """Run ``code`` in the notebook's kernel (its namespace); return what it printed to stdout."""
        msg_id, _ = self._request(code, timeout=timeout)
        out = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # best effort: drain our stdout until the kernel is idle
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.05, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - queue.Empty
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        return "".join(out)

    def eval(self, expr: str, timeout: float | None = None):
        """Evaluate ``expr`` in the notebook's kernel; return its value through JSON (numpy scalars
        and arrays become Python numbers and lists)."""
        wrapped = (
            "__import__('json').dumps((" + expr + "), "
            "default=lambda o: o.tolist() if hasattr(o, 'tolist') else "
            "(_ for _ in ()).throw(TypeError(f'{type(o).__name__} is not JSON serializable')))"
        )
        _, content = self._request("", user_expressions={"r": wrapped}, timeout=timeout)
        res = content["user_expressions"]["r"]
        if res["status"] != "ok":
            raise KernelError(f"{expr!r}: {res.get('ename')}: {res.get('evalue')}")
        return json.loads(ast.literal_eval(res["data"]["text/plain"]))

    def close(self) -> None:
        self.client.stop_channels()


_FIND_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
}
"""

_STATE_JS = (
    "(path) => { const find = " + _FIND_PANEL + """;
  const panel = find(path);
  if (!panel) return {panel: false, dialog: !!document.querySelector('.jp-Dialog')};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter((c) => c.model.type === 'code');
  const errors = [];
  for (const c of cells) {
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n'));
    }
  }
  return {
    panel: true,
    id: panel.id,
    kernel: kernel ? kernel.id : null,
    status: kernel ? kernel.status : null,
    counts: cells.map((c) => c.model.executionCount),
    running: cells.some((c) => c.model.executionState === 'running'),
    errors: errors,
    dialog: !!document.querySelector('.jp-Dialog'),
  };
}"""
)


def _strip_ansi(s: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", s)


@dataclass
class Notebook:
    page: object
    server: JupyterServer
    path: str
    kernel_id: str
    session_id: str
    kernel: KernelHandle
    panel_id: str = ""

    def state(self) -> dict:
        return self.page.evaluate(_STATE_JS, self.path)

    def output(self, i: int):
        """Locator of the output area of the i-th code cell (0-based) of this notebook's panel."""
        panel = self.page.locator(f"#{self.panel_id}") if self.panel_id else self.page
        return panel.locator(".jp-Notebook .jp-CodeCell").nth(i).locator(".jp-OutputArea")

    def close(self) -> None:
        self.kernel.close()
        try:
            self.server.api("DELETE", f"/api/sessions/{self.session_id}")
        except (OSError, urllib.error.URLError):
            pass


def _wait(page, what: str, check, timeout: float, server: JupyterServer, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        page.wait_for_timeout(interval * 1000)
    raise TimeoutError(
        f"timed out after {timeout:.0f} s waiting for {what}; last state {last!r}; "
        f"console errors {getattr(page, 'console_errors', [])[-5:]}\nserver log:\n{server.log_tail(2000)}"
    )


def write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def _open_notebook(page, server: JupyterServer, name: str, cells: list[str], timeout: float = NOTEBOOK_TIMEOUT) -> Notebook:
    """Write ``cells`` as a notebook ``name`` under ``server.root``, open it, run all cells, wait
    until every code cell has executed and the kernel is idle, and attach a kernel client."""
    write_notebook(server.root / name, cells)
    page.server = server  # whose front-end noise to ignore when the test's console is checked
    page.goto(server.notebook_url(name), wait_until="domcontentloaded")
    state = lambda: page.evaluate(_STATE_JS, name)  # noqa: E731

    def kernel_idle():
        s = state()
        if s.get("panel") and s.get("kernel") and s.get("status") == "idle":
            return s
        return None

    s = _wait(page, f"notebook {name} with an idle kernel", kernel_idle, timeout, server)
    page.evaluate(
        "async ([path, id]) => { const app = window.jupyterapp; app.shell.activateById(id);"
        " await app.commands.execute('notebook:run-all-cells'); }",
        [name, s["id"]],
    )

    def finished():
        s = state()
        if s.get("errors"):
            raise AssertionError(f"a cell of {name} raised:\n" + _strip_ansi("\n".join(s["errors"])))
        if (
            s.get("panel")
            and all(c is not None for c in s["counts"])
            and not s["running"]
            and s["status"] == "idle"
        ):
            return s
        return None

    s = _wait(page, f"all cells of {name} to run", finished, timeout, server)
    sessions = [x for x in server.api("GET", "/api/sessions") if x.get("path") == name]
    if not sessions:
        raise RuntimeError(f"no session for {name} in /api/sessions")
    kernel_id = sessions[0]["kernel"]["id"]
    assert kernel_id == s["kernel"], (kernel_id, s["kernel"])
    kernel = KernelHandle(server.runtime_dir / f"kernel-{kernel_id}.json")
    return Notebook(page, server, name, kernel_id, sessions[0]["id"], kernel, s.get("id", ""))


@pytest.fixture
def open_notebook():
    """``open_notebook(page, server, name, cells) -> Notebook``; shuts its kernels down afterwards."""
    opened: list[Notebook] = []

    def _open(page, server, name, cells, timeout: float = NOTEBOOK_TIMEOUT) -> Notebook:
        nb = _open_notebook(page, server, name, cells, timeout)
        opened.append(nb)
        return nb

    yield _open
    for nb in opened:
        nb.close()
