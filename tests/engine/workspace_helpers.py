"""Shared by the workspace fault tests: one hash of a state dict, here and in subprocesses."""

from __future__ import annotations

import hashlib
import inspect


def state_hash(state: dict) -> str:
    """sha256 over every tensor's bytes in sorted key order (bit-identity, not closeness)."""
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# the same hash in the subprocesses
HASH_SRC = "import hashlib\n" + inspect.getsource(state_hash)
