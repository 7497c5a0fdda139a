"""The Streamlit side of Promptboard: ``lib/ui`` is the only package under ``lib`` that imports
Streamlit (``tests/test_architecture.py`` checks it); everything below it is plain Python.

Screens write ``from lib import ui`` and call the shared names re-exported here::

    runtime        engine, require_page, signed_in     one engine per process; the page gate
    display        money, seconds, STATUS_ICONS        how values read on screen
    media          thumbnail                           small images for grids and job cards
    widgets        pager, budget_bar, demo_banner      small widgets several screens share
    generate_form  estimate_line, budget_notes         the Generate form's estimate and budget
    joblist        live_jobs                           job cards that refresh while jobs run

Modules inside ``lib/ui`` import these from their own module, never from the package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lib.ui.display import STATUS_ICONS, money, seconds
    from lib.ui.generate_form import budget_notes, estimate_line
    from lib.ui.joblist import live_jobs
    from lib.ui.media import thumbnail
    from lib.ui.runtime import engine, require_page, signed_in
    from lib.ui.widgets import budget_bar, demo_banner, pager

# Loaded on first use, not with the package: serve.py's routes import lib.ui.shared outside a
# page run, and importing the widgets then would declare streamlit-authenticator's cookie
# component before Streamlit serves it (every page would hang on its skeleton).
_HOME = {
    "STATUS_ICONS": "display", "money": "display", "seconds": "display",
    "budget_notes": "generate_form", "estimate_line": "generate_form",
    "live_jobs": "joblist", "thumbnail": "media",
    "engine": "runtime", "require_page": "runtime", "signed_in": "runtime",
    "budget_bar": "widgets", "demo_banner": "widgets", "pager": "widgets",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'lib.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lib.ui.{_HOME[name]}"), name)


__all__ = [
    "STATUS_ICONS",
    "budget_bar",
    "budget_notes",
    "demo_banner",
    "engine",
    "estimate_line",
    "live_jobs",
    "money",
    "pager",
    "require_page",
    "seconds",
    "signed_in",
    "thumbnail",
]
