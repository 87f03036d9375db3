"""What every view shares: the bundle location, keyword checking, an error trait."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import anywidget
import traitlets

STATIC = Path(__file__).resolve().parent.parent / "static"


def bundle(name: str) -> Path:
    """Path of a built JS view module; a clear error when the front end was never built."""
    path = STATIC / f"{name}.js"
    if not path.exists():
        raise RuntimeError(
            f"the front-end bundle {path} is missing: install the package with pip (it runs the JS "
            "build), or run `npm install && npm run build` in the repository's js/ folder"
        )
    return path


class View(anywidget.AnyWidget):
    """Base of every dashwidgets view.

    Unknown keyword arguments raise a TypeError (a typo must not pass silently), and engine errors
    are shown in the view through the ``error`` trait instead of killing the cell.
    """

    error = traitlets.Unicode("").tag(sync=True)
    """str: message shown in the view's error banner ("" hides it)."""

    def __init__(self, **kwargs: Any):
        allowed = set(self.class_trait_names(sync=lambda v: v)) | {"layout"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {unknown}; "
                f"valid ones are {sorted(k for k in allowed if not k.startswith('_'))}"
            )
        super().__init__(**kwargs)

    def _report(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)

    def _reject(self, msg: str) -> NoReturn:
        """Show ``msg`` in the view and refuse the trait value with it."""
        self.error = msg
        raise traitlets.TraitError(msg)

    # Validators shared by the views that show an engine's images (``self._engine``).
    def _valid_selection(self, value) -> list[int]:
        n = len(self._engine.dataset)
        bad = [i for i in value if not 0 <= i < n]
        if bad:
            self._reject(f"selection indices out of range [0, {n}): {bad[:5]}" + (" ..." if len(bad) > 5 else ""))
        return sorted(set(value))

    def _valid_version(self, value) -> str:
        try:
            return self._engine.version(value).id
        except (ValueError, TypeError) as e:
            self._reject(str(e))
