"""``dashwidgets demo``: the demo workspace is trained once, and the command serves JupyterLab."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

import dashwidgets.demo as demo
from dashwidgets.engine import Engine


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A demo folder prepared once (the 6-epoch training, ~20 s on a laptop CPU)."""
    d = tmp_path_factory.mktemp("demo")
    t0 = time.perf_counter()
    eng, v = demo.prepare(d, verbose=False)
    return d, v.id, time.perf_counter() - t0


def test_prepare_trains_once(demo_dir, monkeypatch):
    d, vid, first = demo_dir
    assert (d / "workspace" / "versions" / f"{vid}.pt").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("prepare trained again although the workspace has the version")

    monkeypatch.setattr(Engine, "train", no_training)
    t0 = time.perf_counter()
    eng, v = demo.prepare(d, verbose=False)
    second = time.perf_counter() - t0
    assert v.id == vid and [x.id for x in eng.versions] == [vid]
    assert eng.projection_reference == vid  # the t-SNE map came back from the workspace
    assert eng.project(v, progress=False).shape == (len(eng.dataset), 2)
    assert second < first / 2, (first, second)


def test_engine_uses_the_env_directory(demo_dir, monkeypatch):
    d, vid, _ = demo_dir
    monkeypatch.setenv(demo.ENV_DIR, str(d))
    monkeypatch.setattr(Engine, "train", lambda *a, **k: pytest.fail("trained"))
    assert demo.default_directory() == d
    eng, v = demo.engine(verbose=False)
    assert v.id == vid and eng.workspace == d / "workspace"


def test_copy_notebook_keeps_an_edited_copy(tmp_path):
    path, copied = demo.copy_notebook(tmp_path)
    assert copied and path == tmp_path / "quickstart.ipynb"
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4 and "dw.demo.engine()" in json.dumps(nb)
    path.write_text(path.read_text().replace("dw.demo.engine()", "dw.demo.engine()  # mine"))
    path2, copied2 = demo.copy_notebook(tmp_path)
    assert path2 == path and not copied2 and "# mine" in path.read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_command_serves_the_notebook_and_stops_on_ctrl_c(demo_dir, tmp_path):
    d, _, _ = demo_dir
    port = _free_port()
    env = {**os.environ, demo.ENV_DIR: str(d), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashwidgets", "demo", "--no-browser", "--port", str(port), "--dir", str(d)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env,
        # started with SIGINT ignored, as a background job of a script is: Ctrl-C must still work
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    out: list[str] = []
    url = None
    try:
        deadline = time.monotonic() + 120
        while url is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "demo exited early:\n" + "".join(out)
            out.append(line)
            m = re.search(r"(http://\S+/lab/tree/quickstart\.ipynb\?token=\S+)", line)
            if m:
                url = m.group(1)
        assert "reusing the trained model" in "".join(out)
        parts = urllib.parse.urlsplit(url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        assert parts.port == port
        with urllib.request.urlopen(f"{parts.scheme}://{parts.netloc}/api/status?token={token}", timeout=10) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"{parts.scheme}://{parts.netloc}/api/contents/quickstart.ipynb?token={token}&content=0", timeout=10) as r:
            assert json.loads(r.read())["type"] == "notebook"
        assert (d / "quickstart.ipynb").is_file()

        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)  # generous: the demo itself gives JupyterLab 15 s, then kills it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    while (line := lines.get(timeout=5)) is not None:
        out.append(line)
    text = "".join(out)
    assert rc == 0, text
    assert "stopped" in text
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)


def test_demo_rejects_a_busy_port(tmp_path, capsys):
    from dashwidgets.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        assert main(["demo", "--no-browser", "--port", str(busy), "--dir", str(tmp_path)]) == 2
    assert f"port {busy} is in use" in capsys.readouterr().err
