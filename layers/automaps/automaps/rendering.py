"""Merge fields: Jinja2 rendered in a sandbox, with missing fields detected, never sent blank.

Templates are written by users (maps, stored email templates), so they run in
``ImmutableSandboxedEnvironment``: no attribute escapes (``''.__class__``), no mutation of the
data they are given. The context's mappings are looked up by key only, so a contact field named
``items`` or ``keys`` is that field, never a dict method.

A variable that is undefined and has no ``default(...)`` raises :class:`MissingField` with the
dotted names of everything missing (``contact.first_name``); the half-rendered text is thrown
away. Using a missing value in a test (``{% if contact.company %}``) is fine: it is false.

Every filter given a missing value (``| length``, ``| join``, ``| list``, ``| upper`` ...) and
a ``for`` over one follow the same rule: MissingField, not a blank. ``default`` and the tests
(``is defined``) are how a template handles a field that may be missing.

Limits, so a template cannot burn the CPU or memory of the function that renders it (each is a
TemplateProblem, raised before the work is done where the size can be known in advance):

* output: at most :data:`MAX_OUTPUT` characters, counted while the template streams
  (``Template.generate``), and no string built inside it may exceed that either: ``'x' * n``,
  ``+``, ``~``, ``%`` and ``str.format`` widths, ``| join``, ``| center(n)`` and other filters
  and calls given a number above it;
* loops: at most :data:`MAX_LOOP_ITERATIONS` iterations of ``for`` loops in one render, in
  total; ``range`` and list repetition (``[x] * n``) at most that many items;
* numbers: ``**`` whose result would have more than :data:`MAX_POWER_BITS` bits is refused.

Compiled templates are cached (bounded LRU) because rendering is on the hot path.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, Template, TemplateError, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from automaps.errors import MissingField, TemplateProblem  # MissingField: part of this module's API
from automaps.store.content import ContentStore

TEMPLATE_CACHE_SIZE = 512
MAX_OUTPUT = 1_000_000
"""Characters a rendered template, or any string built while rendering it, may have."""
MAX_LOOP_ITERATIONS = 10_000
"""``for`` iterations in one render, all loops together; also the largest ``range`` and ``[x] * n``."""
MAX_POWER_BITS = 4_096
"""The largest result ``a ** b`` may have, in bits."""


# ------------------------------------------------------------------ errors


class TemplateSyntaxProblem(TemplateProblem):
    def __init__(self, where: str, line: int | None, message: str) -> None:
        self.where, self.line = where or "template", line
        at = f", line {line}" if line else ""
        super().__init__(f"{self.where}{at}: {message}")


class UnsafeTemplate(TemplateProblem, SecurityError):
    """The template tried to reach outside the sandbox (``__class__``, ``mro`` ...)."""


class TemplateTooBig(TemplateProblem):
    """The template would produce too much, loop too often or compute too big a number."""


class UnknownTemplate(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"email template {name!r} is not in the content store "
            f"(content/templates/{name}.yaml, pushed as TEMPLATE#{name})"
        )


# ------------------------------------------------------------------ the sandbox

_missing_names: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "automaps_missing_names", default=None
)
_loop_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("automaps_loop_budget", default=None)


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

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = _MissingValue,
    ) -> None:
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

    def __iter__(self) -> Iterator[Any]:
        """``for``, ``| join``, ``| list``, ``in``: a missing field, never an empty list."""
        self._fail_with_undefined_error()
        return iter(())

    def __len__(self) -> int:
        """``| length``: a missing field, never 0."""
        self._fail_with_undefined_error()
        return 0


def _missing_in(values: Iterable[Any]) -> None:
    """Raise for the first plain missing value among a filter's arguments."""
    for value in values:
        if isinstance(value, _Missing) and value._is_plain_missing():
            raise _MissingValue(value.path)


def _too_big(what: str, limit: int, unit: str = "characters") -> TemplateTooBig:
    return TemplateTooBig(f"{what} would exceed the limit of {limit:,} {unit}")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _check_numbers(args: Iterable[Any], what: str) -> None:
    """A number above MAX_OUTPUT given to a filter or call (a width, a count) is refused."""
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT:
            raise _too_big(f"{what} with {value}", MAX_OUTPUT)


_WIDE_FORMAT = re.compile(r"%[-+ #0]*\d{7,}|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")


def _check_format(text: Any) -> None:
    """``%`` and ``str.format`` widths above MAX_OUTPUT (``'%*s'``, ``'{:>1000000000}'``)."""
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise _too_big("a format width", MAX_OUTPUT)


def _counted(iterable: Any) -> Iterator[Any]:
    """What every ``for`` iterates over: MissingField for a missing field; at most
    MAX_LOOP_ITERATIONS iterations per render, all loops together."""
    _missing_in([iterable])
    budget = _loop_budget.get()
    for item in iterable:
        if budget is not None:
            budget[0] += 1
            if budget[0] > MAX_LOOP_ITERATIONS:
                raise _too_big("the loops", MAX_LOOP_ITERATIONS, "iterations")
        yield item


def _limited_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_LOOP_ITERATIONS:
        raise _too_big(f"range{args}", MAX_LOOP_ITERATIONS, "items")
    return numbers


def _join_limited(parts: list[Any]) -> str:
    """``a ~ b ~ c`` (Jinja's concatenation), with the size checked before joining."""
    _missing_in(parts)
    texts = [str(part) for part in parts]
    if sum(map(len, texts)) > MAX_OUTPUT:
        raise _too_big("a concatenation (~)", MAX_OUTPUT)
    return "".join(texts)


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses missing values and oversized numbers, and whose text result is capped."""

    @functools.wraps(function)  # keeps jinja_pass_arg: the context, eval context or environment come first
    def guarded(*args: Any, **kwargs: Any) -> Any:
        plain = [a for a in args if not isinstance(a, (Context, EvalContext, Environment))]
        _missing_in(plain[:1])
        if name in _SIZED_FILTERS:
            _check_numbers([*plain[1:], *kwargs.values()], f"| {name}")
        if name == "format" and plain:
            _check_format(plain[0])
        if (
            name == "join"
            and plain
            and isinstance(plain[0], (list, tuple))
            and sum(_size(item) for item in plain[0]) > MAX_OUTPUT
        ):
            raise _too_big("| join", MAX_OUTPUT)
        result = function(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_OUTPUT:
            raise _too_big(f"| {name}", MAX_OUTPUT)
        return result

    return guarded


def _limited_power(left: Any, right: Any) -> Any:
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and right > 0
        and abs(left) > 1
        and right * math.log2(abs(left)) > MAX_POWER_BITS
    ):
        raise _too_big(f"{left} ** {right}", MAX_POWER_BITS, "bits")
    return left**right


def _limited_multiply(left: Any, right: Any) -> Any:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, (str, list, tuple)) and isinstance(times, int) and not isinstance(times, bool):
            limit = MAX_OUTPUT if isinstance(sequence, str) else MAX_LOOP_ITERATIONS
            if len(sequence) * times > limit:
                raise _too_big(
                    f"repeating {type(sequence).__name__} {times:,} times",
                    limit,
                    "characters" if isinstance(sequence, str) else "items",
                )
    return left * right


def _limited_add(left: Any, right: Any) -> Any:
    if (
        isinstance(left, (str, list, tuple))
        and isinstance(right, (str, list, tuple))
        and len(left) + len(right) > MAX_OUTPUT
    ):
        raise _too_big("+", MAX_OUTPUT)
    return left + right


def _limited_modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_format(left)
        _check_numbers(right if isinstance(right, tuple) else (right,), "%")
    return left % right


class _Limits(NodeTransformer):
    """Rewrites a parsed template: every ``for`` iterates through ``_counted`` and every ``~``
    joins through ``_join_limited`` (double-underscore globals: no template can name them)."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def _call(self, function: str, argument: nodes.Node, like: nodes.Node) -> nodes.Node:
        call = nodes.Call(nodes.Name(function, "load"), [argument], [], None, None)
        return call.set_lineno(like.lineno).set_environment(self.environment)

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = self._call("__automaps_counted", node.iter, node)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes).set_lineno(node.lineno).set_environment(self.environment)
        return self._call("__automaps_join", parts, node)


_SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice", "format"})
"""Filters whose numeric arguments say how much they produce (widths, counts)."""


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, plus key-only lookup in the context's mappings and the limits above."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.binop_table |= {"*": _limited_multiply, "**": _limited_power, "+": _limited_add, "%": _limited_modulo}
        self.globals |= {"range": _limited_range, "__automaps_counted": _counted, "__automaps_join": _join_limited}
        self.filters = {
            name: function if name in ("default", "d") else _guarded_filter(name, function)
            for name, function in self.filters.items()
        }

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template: nodes.Template = _Limits(self).visit(super()._parse(source, name, filename))
        return template

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """String methods (``'x'.ljust(n)``, ``.center``, ``.zfill``, ``.format``) are held to the limits."""
        owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)  # the sandbox wraps str.format
        if isinstance(owner, str):
            _check_numbers([*args, *kwargs.values()], f"calling {getattr(obj, '__name__', 'a method')}")
            _check_format(owner)
        return super().call(context, obj, *args, **kwargs)

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
    environment.filters["datetime"] = _guarded_filter("datetime", format_datetime)
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


def render(template_text: str, context: Mapping[str, Any], *, html: bool = False, where: str = "") -> str:
    """Render ``template_text`` with ``context``; HTML escapes the values when ``html``.

    Raises MissingField (with every missing dotted name), TemplateSyntaxProblem, UnsafeTemplate,
    or TemplateProblem for any other error the template makes.
    """
    template = compile_template(template_text, html=html, where=where)
    collected: list[str] = []
    token, budget = _missing_names.set(collected), _loop_budget.set([0])
    text = ""
    try:
        text = _stream(template, {key: _scoped(key, value) for key, value in context.items()})
    except _MissingValue as error:
        collected.append(error.path)
    except TemplateTooBig as error:
        raise TemplateTooBig(f"{where or 'template'}: {error}") from None
    except SecurityError as error:
        raise UnsafeTemplate(f"{where or 'template'}: {error}") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, RecursionError, MemoryError) as error:
        raise TemplateProblem(f"{where or 'template'} cannot be rendered: {error}") from None
    finally:
        _missing_names.reset(token)
        _loop_budget.reset(budget)
    if collected:
        raise MissingField(collected, where=where)
    return text


def _stream(template: Template, variables: dict[str, Any]) -> str:
    """The rendered text, refused as soon as it passes MAX_OUTPUT characters."""
    parts, size = [], 0
    for chunk in template.generate(variables):
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise _too_big("the rendered text", MAX_OUTPUT)
        parts.append(chunk)
    return "".join(parts)


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


def merge_context(
    contact: Any, event: Mapping[str, Any] | None = None, offer: Mapping[str, Any] | None = None
) -> dict[str, Any]:
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
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'template'}: {e['msg']}" for e in error.errors())
        raise TemplateProblem(f"email template {name!r} is invalid: {problems}") from None


# ------------------------------------------------------------------ html -> text

_BLOCKS = {
    "p",
    "div",
    "br",
    "tr",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "blockquote",
    "hr",
    "section",
    "header",
    "footer",
}
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
