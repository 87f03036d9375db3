"""Command line: ``dashwidgets audit BENCHMARK|WORKSPACE`` trains the default model (or reopens a
workspace) and prints a bias audit and the ranked suspected biases of ``Engine.report``;
``dashwidgets demo`` opens the quickstart notebook in JupyterLab with a ready-trained model;
``dashwidgets export NOTEBOOK --html OUT`` writes a notebook as one offline HTML page."""

from __future__ import annotations

import argparse
import sys
import time


def _parser() -> argparse.ArgumentParser:
    from .datasets.benchmarks import BENCHMARKS

    p = argparse.ArgumentParser(prog="dashwidgets", description=__doc__)
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command")
    a = sub.add_parser(
        "audit",
        help="generate an embedded benchmark (or reopen a workspace), train, print a text audit and the "
        "ranked suspected biases",
        description="Generate an embedded biased benchmark, train the default model on it and print "
        "validation vs unbiased-test accuracy, per-class accuracy and bias-aligned vs "
        "bias-conflicting accuracy, then the suspected biases of Engine.report, ranked, each with its "
        "test, evidence images and fix. Given a workspace folder (made by dw.Engine(..., workspace=)) "
        "instead of a benchmark, reopen it and audit its active version (no training).",
    )
    a.add_argument("benchmark", nargs="?", default="colored-digits", type=_benchmark_or_workspace,
                   metavar="BENCHMARK|WORKSPACE", help=f"one of {', '.join(BENCHMARKS)}, or a workspace folder")
    a.add_argument("--bias", type=float, default=0.99, help="share of train/val images with their class's spurious feature (default 0.99)")
    a.add_argument("--epochs", type=int, default=6)
    a.add_argument("--lr", type=float, default=3e-3)
    a.add_argument("--batch-size", type=int, default=128)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    a.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, ...")
    a.add_argument("--workspace", default=None, help="folder that keeps trained versions; reused when it exists")
    a.add_argument("--no-report", dest="report", action="store_false", help="print the text audit only")
    a.add_argument("--sample", type=int, default=500, help="validation images the report's probes edit (default 500)")
    d = sub.add_parser(
        "demo",
        help="train the demo model (once) and open the quickstart notebook in JupyterLab",
        description="Generate colored-digits, train the default model on it (only the first time; it "
        "is kept in DIR/workspace), compute its t-SNE projection, copy the quickstart notebook into "
        "DIR (an existing, maybe edited, copy is kept) and start JupyterLab on DIR. Ctrl-C stops it.",
    )
    d.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    d.add_argument("--port", type=int, default=None, help="port of JupyterLab (default 8888, or the next free one)")
    d.add_argument("--dir", default=None, help="demo folder (default $DASHWIDGETS_DEMO_DIR, else ~/.cache/dashwidgets/demo)")
    e = sub.add_parser(
        "export",
        help="write a notebook as one self-contained offline HTML page (its views work without a kernel)",
        description="Write NOTEBOOK as one HTML file that opens offline: the widget manager, the "
        "anywidget front end, the views' modules and their data (images as compressed atlases) are "
        "inlined, nothing loads from a CDN. Without --execute the notebook's saved outputs and saved "
        "widget state are used.",
    )
    e.add_argument("notebook", help="the .ipynb file")
    e.add_argument("--html", required=True, metavar="OUT", help="the HTML file to write")
    e.add_argument("--execute", action="store_true", help="run the notebook headless first (in its own folder)")
    e.add_argument("--image-budget", type=float, default=None, metavar="MB",
                   help="megabytes of images each view embeds (0: none); more lets more of a selection "
                   "show its images offline, less keeps the page small (default: the views' own); "
                   "only with --execute")
    e.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds each cell may run (default 600)")
    e.add_argument("--theme", choices=("light", "dark"), default="light", help="page theme (default light)")
    return p


def _benchmark_or_workspace(value: str) -> str:
    from pathlib import Path

    from .datasets.benchmarks import BENCHMARKS

    if value in BENCHMARKS or Path(value).is_dir():
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is neither a benchmark ({', '.join(BENCHMARKS)}) nor an existing workspace folder"
    )


def _audit(args: argparse.Namespace) -> int:
    from .datasets.benchmarks import BENCHMARKS
    from .engine import Engine

    if args.benchmark not in BENCHMARKS:
        eng = Engine.open(args.benchmark, device=args.device)
        if eng.active is None:
            raise ValueError(f"workspace {args.benchmark} has no trained version to audit")
        print(f"{eng!r}: auditing its active version {eng.active.id}")
        return _print_audit(eng, eng.active, args)
    return _train_and_audit(args)


def _print_audit(eng, version, args: argparse.Namespace) -> int:
    print()
    print(eng.audit(version).to_text())
    if args.report:
        print()
        print(eng.report(version, sample=args.sample, progress=False).to_text())
    return 0


def _train_and_audit(args: argparse.Namespace) -> int:
    from .datasets import load
    from .engine import Engine

    t0 = time.perf_counter()
    ds = load(args.benchmark, bias=args.bias, seed=args.seed, size=args.size)
    print(f"{ds}  (generated in {time.perf_counter() - t0:.1f} s)")
    eng = Engine(ds, device=args.device, workspace=args.workspace, seed=args.seed)
    hp = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "seed": args.seed}
    version = eng.trained_from_scratch(**hp)
    if version is not None:
        print(f"reusing {version.id} from workspace {eng.workspace}")
    else:
        print(f"training the default model on {eng.device} ({args.epochs} epochs)...")
        t0 = time.perf_counter()
        version = eng.train(**hp)
        print(f"trained {version.id} in {time.perf_counter() - t0:.1f} s")
    return _print_audit(eng, version, args)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _server_ready(url: str, timeout: float = 2.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _demo(args: argparse.Namespace) -> int:
    import importlib.util
    import os
    import secrets
    import signal
    import subprocess
    from pathlib import Path

    from . import demo

    if importlib.util.find_spec("jupyterlab") is None:
        print("dashwidgets: error: the demo needs JupyterLab: pip install jupyterlab", file=sys.stderr)
        return 2
    directory = (Path(args.dir).expanduser() if args.dir else demo.default_directory()).resolve()
    if args.port is not None:
        if not 0 < args.port < 65536:
            raise ValueError(f"--port must be in 1..65535, got {args.port}")
        if not _port_free(args.port):
            raise ValueError(f"port {args.port} is in use; choose another with --port")
        port = args.port
    else:
        port = next((p for p in range(8888, 8938) if _port_free(p)), None)
        if port is None:
            raise ValueError("ports 8888 to 8937 are all in use; choose one with --port")

    print(f"dashwidgets demo in {directory}")
    t0 = time.perf_counter()
    eng, _ = demo.prepare(directory)
    del eng
    nb, copied = demo.copy_notebook(directory)
    print(f"{'copied' if copied else 'keeping your copy of'} the notebook {nb}")
    print(f"ready in {time.perf_counter() - t0:.1f} s; starting JupyterLab on port {port}...")

    token = secrets.token_hex(24)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/lab/tree/{demo.NOTEBOOK}?token={token}"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={directory}",
        "--ServerApp.open_browser=False",
        "--ServerApp.log_level=WARN",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")
    env = {**os.environ, demo.ENV_DIR: str(directory)}
    # Its own session: the terminal's Ctrl-C reaches only this process, which then stops the
    # server cleanly (a server that got SIGINT from a terminal would ask for confirmation).
    proc = None

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C must stop the demo even when it was started with SIGINT ignored (a background job
    # of a non-interactive shell inherits SIG_IGN, and Python then installs no handler).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(cmd, cwd=directory, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while not _server_ready(f"{base}/api/status?token={token}"):
            if proc.poll() is not None:
                print(f"dashwidgets: error: JupyterLab exited with code {proc.returncode}", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                raise TimeoutError("JupyterLab did not start within 120 s")
            time.sleep(0.25)
        print()
        print("The quickstart notebook is open at")
        print(f"    {url}", flush=True)
        if not args.no_browser:
            import webbrowser

            if not webbrowser.open(url):
                print("(no browser found: open the address above yourself)")
        print("Press Ctrl-C to stop JupyterLab.", flush=True)
        rc = proc.wait()
        print(f"JupyterLab exited with code {rc}")
        return 0 if rc == 0 else 1
    except (KeyboardInterrupt, TimeoutError) as e:
        if isinstance(e, TimeoutError):
            print(f"dashwidgets: error: {e}", file=sys.stderr)
        print("\nstopping JupyterLab...", flush=True)
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: the server shuts its kernels down and exits
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        print(f"stopped; the trained model stays in {directory / 'workspace'}", flush=True)
        return 1 if isinstance(e, TimeoutError) else 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _export(args: argparse.Namespace) -> int:
    from .runtime.export import export_html

    t0 = time.perf_counter()
    out = export_html(args.notebook, args.html, execute=args.execute, image_budget_mb=args.image_budget,
                      timeout=args.timeout, theme=args.theme)
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "audit":
            return _audit(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "export":
            return _export(args)
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was saved for the unfinished run", file=sys.stderr)
        return 130
    except ValueError as e:
        print(f"dashwidgets: error: {e}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
