"""Command line: ``dashwidgets audit BENCHMARK`` trains the default model and prints a bias audit."""

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
        help="generate an embedded benchmark, train the default model, print a text audit",
        description="Generate an embedded biased benchmark, train the default model on it and print "
        "validation vs unbiased-test accuracy, per-class accuracy and bias-aligned vs "
        "bias-conflicting accuracy.",
    )
    a.add_argument("benchmark", nargs="?", default="colored-digits", choices=BENCHMARKS)
    a.add_argument("--bias", type=float, default=0.99, help="share of train/val images with their class's spurious feature (default 0.99)")
    a.add_argument("--epochs", type=int, default=6)
    a.add_argument("--lr", type=float, default=3e-3)
    a.add_argument("--batch-size", type=int, default=128)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    a.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, ...")
    a.add_argument("--workspace", default=None, help="folder that keeps trained versions; reused when it exists")
    return p


def _audit(args: argparse.Namespace) -> int:
    from .datasets import load
    from .engine import Engine

    t0 = time.perf_counter()
    ds = load(args.benchmark, bias=args.bias, seed=args.seed, size=args.size)
    print(f"{ds}  (generated in {time.perf_counter() - t0:.1f} s)")
    eng = Engine(ds, device=args.device, workspace=args.workspace, seed=args.seed)
    hp = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "seed": args.seed}
    reuse = [v for v in eng.versions if v.parent is None and all(v.hparams.get(k) == x for k, x in hp.items())]
    if reuse:
        version = reuse[-1]
        print(f"reusing {version.id} from workspace {eng.workspace}")
    else:
        print(f"training the default model on {eng.device} ({args.epochs} epochs)...")
        t0 = time.perf_counter()
        version = eng.train(**hp)
        print(f"trained {version.id} in {time.perf_counter() - t0:.1f} s")
    print()
    print(eng.audit(version).to_text())
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
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was saved for the unfinished run", file=sys.stderr)
        return 130
    except ValueError as e:
        print(f"dashwidgets: error: {e}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
