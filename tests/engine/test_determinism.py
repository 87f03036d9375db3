"""A fixed seed gives the same version: bit-identical weights and history for the same torch
thread count, whatever else the machine is doing (load changes timing, not the order of sums).
Another thread count sums in another order, so weights may differ in their last bits and then
more: ``benchmarks/debias_spread.py`` measures how far the README's debias figure moves with it."""

from __future__ import annotations

import subprocess
import sys

import dashwidgets as dw

_CHILD = """
import sys, hashlib, torch
torch.set_num_threads(int(sys.argv[1]))
import dashwidgets as dw
ds = dw.datasets.load('patch-digits', bias=0.99, seed=0, n_train=600, n_val=150, n_test=250)
eng = dw.Engine(ds, device='cpu')
v = eng.train(epochs=2, seed=int(sys.argv[2]), progress=False)
h = hashlib.sha256()
sd = eng._store.model(v.id).state_dict()
for k in sorted(sd):
    h.update(sd[k].cpu().numpy().tobytes())
print(h.hexdigest())
"""


def _weights_digest(threads: int, seed: int) -> str:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(threads), str(seed)], capture_output=True, text=True,
                         timeout=600, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_the_same_seed_trains_the_same_weights_in_one_engine(small_ds):
    eng = dw.Engine(small_ds, device="cpu")
    a = eng.train(epochs=2, seed=3, progress=False)
    b = eng.train(epochs=2, seed=3, progress=False)
    c = eng.train(epochs=2, seed=4, progress=False)
    sa, sb, sc = (eng._store.model(v.id).state_dict() for v in (a, b, c))
    assert all((sa[k] == sb[k]).all() for k in sa)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert a.metrics == b.metrics
    assert any(not (sa[k] == sc[k]).all() for k in sa)  # the seed matters: the check can fail


def test_the_same_seed_and_thread_count_give_the_same_weights_in_fresh_processes():
    # two separate interpreters (what a rerun of a notebook is), one thread each
    assert _weights_digest(1, 0) == _weights_digest(1, 0)
