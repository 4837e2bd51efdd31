"""Callbacks that never fail silently: the error is logged, shown in the wizard, and the last good state kept."""

from __future__ import annotations

import functools
import html
import logging
from typing import Any, Callable

log = logging.getLogger("nbwizard")


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """Run a callback; on failure log it, say so in the wizard, and keep the last good state."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception as exc:  # a callback has no caller to raise to: show it instead
            log.exception("wizard callback %s failed", method.__name__)
            self._resync()
            self.status.value = (f"<p class='nbw-bad' role='alert'>✗ Something went wrong: "
                                 f"{html.escape(str(exc) or type(exc).__name__)}. Your settings are unchanged.</p>")

    return run
