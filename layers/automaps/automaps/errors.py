"""Errors of merge-field rendering that the step runner handles, without importing Jinja2.

``automaps.rendering`` raises them (and re-exports them); handlers that never render a template
do not pay for importing the template engine.
"""

from __future__ import annotations

from collections.abc import Iterable


class MissingField(Exception):
    """Merge fields with no value and no ``default(...)``; nothing must be sent."""

    def __init__(self, names: Iterable[str], where: str = "") -> None:
        self.names: list[str] = list(dict.fromkeys(names))
        self.where = where
        place = f" in {where}" if where else ""
        super().__init__(f"missing merge field{'s' if len(self.names) > 1 else ''}{place}: "
                         f"{', '.join(self.names)}")


class TemplateProblem(ValueError):
    """A template that cannot be rendered whatever the contact: the author has to fix it."""
