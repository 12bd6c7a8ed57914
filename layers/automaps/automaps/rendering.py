"""Merge fields: Jinja2 rendered in a sandbox, with missing fields detected, never sent blank.

Templates are written by users (maps, stored email templates), so they run in
``ImmutableSandboxedEnvironment``: no attribute escapes (``''.__class__``), no mutation of the
data they are given. The context's mappings are looked up by key only, so a contact field named
``items`` or ``keys`` is that field, never a dict method.

A variable that is undefined and has no ``default(...)`` raises :class:`MissingField` with the
dotted names of everything missing (``contact.first_name``); the half-rendered text is thrown
away. Using a missing value in a test (``{% if contact.company %}``) is fine: it is false.

Compiled templates are cached (bounded LRU) because rendering is on the hot path.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Template, TemplateError, TemplateSyntaxError, Undefined, meta
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from automaps.content import ContentStore
from automaps.errors import MissingField, TemplateProblem  # noqa: F401  (part of this module's API)

TEMPLATE_CACHE_SIZE = 512


# ------------------------------------------------------------------ errors

class TemplateSyntaxProblem(TemplateProblem):
    def __init__(self, where: str, line: int | None, message: str) -> None:
        self.where, self.line = where or "template", line
        at = f", line {line}" if line else ""
        super().__init__(f"{self.where}{at}: {message}")


class UnsafeTemplate(TemplateProblem, SecurityError):
    """The template tried to reach outside the sandbox (``__class__``, ``mro`` ...)."""


class UnknownTemplate(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"email template {name!r} is not in the content store "
                         f"(content/templates/{name}.yaml, pushed as TEMPLATE#{name})")


# ------------------------------------------------------------------ the sandbox

_missing_names: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "automaps_missing_names", default=None)


class _Scope(dict):
    """A mapping of the context that knows its dotted path, so missing keys can be named."""

    __slots__ = ("path",)

    def __init__(self, path: str, values: Mapping[str, Any]) -> None:
        super().__init__({key: _scoped(f"{path}.{key}", value) for key, value in values.items()})
        self.path = path


def _scoped(path: str, value: Any) -> Any:
    return _Scope(path, value) if isinstance(value, Mapping) else value


class _MissingValue(UndefinedError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path} is missing")


class _Missing(Undefined):
    """Undefined that knows its dotted path, chains (``event.order.id``) and refuses to print.

    Printing it records the path and renders nothing; :func:`render` then raises MissingField,
    so the output is never used. Any other use (arithmetic, calls) raises ``_MissingValue`` at
    once. Undefineds the sandbox makes for unsafe access keep raising their SecurityError.
    """

    __slots__ = ()

    def __init__(self, hint: str | None = None, obj: Any = missing, name: str | None = None,
                 exc: type[TemplateRuntimeError] = _MissingValue) -> None:
        super().__init__(hint, obj, name, exc)

    @property
    def path(self) -> str:
        parent = getattr(self._undefined_obj, "path", None)
        name = str(self._undefined_name)
        return f"{parent}.{name}" if parent else name

    @property
    def _undefined_message(self) -> str:
        return self.path if self._is_plain_missing() else super()._undefined_message

    def _is_plain_missing(self) -> bool:
        return self._undefined_exception is _MissingValue and self._undefined_hint is None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or not self._is_plain_missing():
            raise AttributeError(name)
        return _Missing(obj=self, name=name)

    def __getitem__(self, name: Any) -> Any:
        if not self._is_plain_missing():
            self._fail_with_undefined_error()
        return _Missing(obj=self, name=name)

    def __str__(self) -> str:
        collected = _missing_names.get()
        if collected is None or not self._is_plain_missing():
            self._fail_with_undefined_error()
        collected.append(self.path)
        return ""


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, plus key-only lookup in the context's mappings."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, _Scope):
            return self._lookup(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, _Scope):
            return self._lookup(obj, argument)
        return super().getitem(obj, argument)

    def _lookup(self, scope: _Scope, key: Any) -> Any:
        if key in scope:
            return scope[key]
        if isinstance(key, str) and key.startswith("__"):
            return self.unsafe_undefined(scope, key)
        return self.undefined(obj=scope, name=key)


def format_datetime(value: Any, fmt: str = "%A %d %B %Y, %H:%M %Z", timezone: Any = None) -> str:
    """Filter ``datetime``: ``{{ contact.webinar_at | datetime('%H:%M', contact.timezone) }}``.

    Takes an ISO-8601 string or a datetime; shown in ``timezone`` (IANA name; UTC if unknown).
    """
    if isinstance(value, Undefined):
        return str(value)  # records the missing field
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise TemplateProblem(f"{value!r} is not a date-time (ISO 8601 expected)") from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(_zone(timezone)).strftime(fmt)


def _zone(name: Any) -> tzinfo:
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


@functools.cache
def _environment(html: bool) -> _Environment:
    environment = _Environment(undefined=_Missing, autoescape=html, keep_trailing_newline=True)
    environment.filters["datetime"] = format_datetime
    return environment


@functools.lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _compiled(template_text: str, html: bool) -> Template:
    return _environment(html).from_string(template_text)


def compile_template(template_text: str, *, html: bool = False, where: str = "") -> Template:
    """The compiled template (cached); a syntax error names ``where`` and the line."""
    try:
        return _compiled(template_text, html)
    except TemplateSyntaxError as error:
        raise TemplateSyntaxProblem(where, error.lineno, error.message or str(error)) from None


@functools.lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _variables(template_text: str) -> frozenset[str]:
    try:
        return frozenset(meta.find_undeclared_variables(_environment(False).parse(template_text)))
    except TemplateSyntaxError:
        return frozenset()  # render() reports the syntax error where it matters


def referenced_variables(*template_texts: str | None) -> set[str]:
    """Top-level names the templates use (``contact``, ``event``, ``unsubscribe_url`` ...), so
    callers fetch only the data a template needs."""
    return set().union(*(_variables(text) for text in template_texts if text))


def render(template_text: str, context: Mapping[str, Any], *, html: bool = False,
           where: str = "") -> str:
    """Render ``template_text`` with ``context``; HTML escapes the values when ``html``.

    Raises MissingField (with every missing dotted name), TemplateSyntaxProblem, UnsafeTemplate,
    or TemplateProblem for any other error the template makes.
    """
    template = compile_template(template_text, html=html, where=where)
    collected: list[str] = []
    token = _missing_names.set(collected)
    try:
        text = template.render({key: _scoped(key, value) for key, value in context.items()})
    except _MissingValue as error:
        collected.append(error.path)
    except SecurityError as error:
        raise UnsafeTemplate(f"{where or 'template'}: {error}") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
        raise TemplateProblem(f"{where or 'template'} cannot be rendered: {error}") from None
    finally:
        _missing_names.reset(token)
    if collected:
        raise MissingField(collected, where=where)
    return text


# ------------------------------------------------------------------ the merge context

def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (Mapping, list, tuple, set, frozenset)) and not value


def _present(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop empty values (recursively): a field present but empty counts as missing."""
    kept: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if isinstance(value, Mapping):
            value = _present(value)
        if not _is_empty(value):
            kept[key] = value
    return kept


def merge_context(contact: Any, event: Mapping[str, Any] | None = None,
                  offer: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variables templates see: ``contact`` (its fields, ``id``, sorted ``tags``),
    ``event`` (what triggered the enrollment) and ``offer``."""
    return {
        "contact": {**_present(contact.fields), "id": contact.id, "tags": sorted(contact.tags)},
        "event": _present(event),
        "offer": _present(offer),
    }


# ------------------------------------------------------------------ email templates

class EmailTemplate(BaseModel):
    """An email template as stored in the content table (and in content/templates/*.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str = Field(min_length=1, max_length=998)
    html: str = Field(min_length=1)
    text: str | None = Field(default=None, description="plain-text part; derived from html if absent")
    marketing: bool = Field(default=True, description="marketing mail carries an unsubscribe link")
    description: str = ""


def load_email_template(name: str, store: ContentStore | None = None) -> EmailTemplate:
    body = (store or ContentStore()).get("TEMPLATE", name)
    if body is None:
        raise UnknownTemplate(name)
    try:
        return EmailTemplate.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'template'}: {e['msg']}"
                             for e in error.errors())
        raise TemplateProblem(f"email template {name!r} is invalid: {problems}") from None


# ------------------------------------------------------------------ html -> text

_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
           "blockquote", "hr", "section", "header", "footer"}
_HIDDEN = {"script", "style", "head", "title"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS and tag != "li":
            self.parts.append("\n")
        if tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith(("#", "mailto:")):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML body: blocks become lines, links show their URL."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(extractor.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
