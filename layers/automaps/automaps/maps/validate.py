"""``automaps validate``: the maps checked against the content they use, before anything is deployed.

The loader (automaps.maps.loader) finds what a map file alone can tell: its shape, its step ids,
the maps it names. This module adds what needs the repository's content folder, described by a
:class:`Content` (read by ``automaps_local.validate.read_content``; nothing here reads files or
AWS), and returns one :class:`~automaps.maps.loader.Finding` per problem:

* names that must exist: email templates (``content/templates/<name>.yaml``: send_email,
  ``opened_email: {template}``, ``email_opened: {template}``), forms (``content/forms/``:
  ``form_submitted``, ``last_form_submit_date``), segments (``content/segments/``: the segment
  triggers and broadcasts), connections (``content/connections/``, of the type the action
  takes; send_email's ``default`` is Amazon SES) and lead routers (``content/routers/``);
* lists, which nothing declares (a list exists once a contact is on it: an add_to_list step, an
  import, the admin API): a list named where contacts are read or removed that no map fills,
  nor ``content/lists/<name>.yaml`` declares, but that is one letter away from one that is, is
  reported as a misspelling;
* the Jinja syntax of every text a step renders (any setting holding ``{{``, ``{%`` or ``{#``,
  an awaited event's ``where``, and the subject, html and text of each template a step sends);
* merge fields nothing provides (:func:`_merge_problem`): ``{{ contact.<field> }}`` is provided
  by a standard field (:data:`STANDARD_FIELDS`), a field of a form in ``content/forms/``, a
  field an ``update_contact`` step of any map sets, or one a map's ``date_matches``,
  ``date_relative`` or ``field_updated`` trigger reads (imported fields: the trigger says so); ``{{ event.<key> }}`` by one of the map's
  triggers (:data:`EVENT_KEYS`; an ``event:`` trigger on a custom kind may carry anything);
  ``{{ offer.<key> }}`` only by a trigger that may carry anything. A use guarded by
  ``| default(...)``, an ``if`` or a test (``is defined``) is always fine;
* values of the wrong type: ``gt``/``ge``/``lt``/``le`` take a number (or an ISO date), and a
  field that a form declares as a number is compared with numbers only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path as FilePath
from typing import Any

from jinja2 import Environment, nodes
from pydantic import BaseModel

from automaps.conditions import model as conditions
from automaps.maps.loader import Finding, is_stand_in
from automaps.maps.model import (
    ActionStep,
    GoalStep,
    IfStep,
    Map,
    Path,
    StepRef,
    SwitchStep,
    WaitUntilStep,
    walk,
)
from automaps.timing import suggest

STANDARD_FIELDS = frozenset({"email", "phone", "first_name", "last_name", "timezone", "id", "tags"})
"""Contact fields every contact may have (``id`` and ``tags`` are always there)."""

_COMMON_EVENT = frozenset({"type", "kind", "at", "entry", "depth", "chain"})
EVENT_KEYS: dict[str, frozenset[str]] = {
    "tags.changed": frozenset({"added", "removed"}),
    "list.added": frozenset({"list"}),
    "list.removed": frozenset({"list"}),
    "fulfillment.added": frozenset({"list", "fields"}),
    "fulfillment.removed": frozenset({"list"}),
    "email.sent": frozenset({"template", "connection", "message_id", "marketing", "to"}),
    "email.opened": frozenset({"template", "connection", "message_id"}),
    "email.clicked": frozenset({"template", "connection", "message_id", "url"}),
    "page.visited": frozenset({"url", "page", "funnel", "referrer"}),
    "purchase.made": frozenset(
        {"product", "purchase_id", "quantity", "price", "total", "currency", "order_id", "cart_id"}
    ),
    "purchase.refunded": frozenset({"order_id", "amount", "currency", "product"}),
    "order.charged": frozenset({"order_id", "amount", "currency", "product"}),
    "order.created": frozenset({"product", "order_id", "amount", "currency"}),
    "card.declined": frozenset({"product", "order_id", "amount", "currency", "reason"}),
    "course.subscribed": frozenset({"course", "plan", "starts_at", "previous"}),
    "course.started": frozenset({"course"}),
    "course.completed": frozenset({"course"}),
    "course.step_completed": frozenset({"course", "step"}),
    "account.created": frozenset({"platform"}),
    "automation.added": frozenset({"map", "by_map", "by_step", "waiting"}),
    "automation.removed": frozenset({"map", "by_map", "by_step", "enrollment"}),
    "automation.paused": frozenset({"map", "by_map", "by_step"}),
    "automation.unpaused": frozenset({"map", "by_map", "by_step"}),
    "segment.entered": frozenset({"segment", "fill"}),
    "segment.exited": frozenset({"segment"}),
}
"""What ``{{ event.<key> }}`` holds when a trigger on that history kind started the run (besides
``type``, ``kind``, ``at``, ``entry``): the entry's detail, docs/architecture.md "Events: what
conditions read". A kind not listed here (a custom event, note.added ...) may carry anything."""
_FORM_EVENT = frozenset({"type", "form", "submission_id", "fields", "at"})
_SCHEDULE_EVENT = frozenset({"type", "kind", "at", "trigger"})

CONNECTION_TYPES = {
    "send_email": "smtp",
    "send_webhook": "webhook",
    "grant_wordpress_membership": "wordpress",
    "revoke_wordpress_membership": "wordpress",
    "facebook_custom_audience": "facebook",
    "make_phone_call": "connect",
}
"""The connection type each action's ``connection`` must name (the payment actions take any)."""
SES = "default"


@dataclass(frozen=True)
class Template:
    """An email template's texts (content/templates/<name>.yaml)."""

    subject: str = ""
    html: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Content:
    """What the content folder holds, by name (the file's stem)."""

    folder: str = "content"
    templates: Mapping[str, Template] = field(default_factory=dict)
    forms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """form id -> field name -> the field's type (``number``, ``text`` ...)."""
    segments: frozenset[str] = frozenset()
    connections: Mapping[str, str] = field(default_factory=dict)
    """connection name -> its type."""
    routers: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    """Lists declared in content/lists/ (filled outside maps: an import, the admin API)."""


def check_content(
    maps: Mapping[FilePath, Map], content: Content, dropped: Mapping[FilePath, list[Path]] | None = None
) -> list[Finding]:
    """Every problem of ``maps`` against ``content`` and each other (see the module's docstring),
    then the Jinja syntax of the templates themselves. ``dropped``: paths of each map that stood
    in for refused parts (automaps.maps.loader.Reading), where nothing is reported."""
    checker = _Checker(maps, content)
    found: list[Finding] = []
    for file, map_ in maps.items():
        skip = (dropped or {}).get(file, [])
        found += [f for f in checker.map_problems(file, map_) if not any(f.path[: len(p)] == p for p in skip)]
    return found + checker.template_problems()


# ---------------------------------------------------------------- Jinja


_PARSER = Environment()
_PARSER.filters["datetime"] = str  # (automaps.rendering's own filter: only its name matters here)
_ROOTS = ("contact", "event", "offer")
_GLOBALS = frozenset({"range", "loop", "dict", "lipsum", "cycler", "joiner", "namespace", "true", "false", "none"})
_TEMPLATED = re.compile(r"\{\{|\{%|\{#")


def syntax_problem(text: str, *, html: bool = False) -> str | None:
    """The Jinja syntax error of ``text`` in the words rendering uses (None when it has none);
    an unknown filter counts (``| uper``)."""
    from automaps import rendering

    try:
        rendering.compile_template(text, html=html, where="")
    except rendering.TemplateSyntaxProblem as problem:
        at = f"line {problem.line}: " if problem.line and "\n" in text.strip() else ""
        message = str(problem).split(": ", 1)[-1]
        return f"Jinja syntax error, {at}{message}"
    return None


@dataclass(frozen=True)
class Reference:
    """A merge field a text uses: ``contact.first_name`` is ``("contact", ("first_name",))``."""

    root: str
    names: tuple[str, ...]
    line: int
    guarded: bool

    @property
    def dotted(self) -> str:
        return ".".join((self.root, *self.names))


def references(text: str) -> list[Reference]:
    """The merge fields ``text`` uses, each with whether a ``default``, a test or an ``if``
    handles it being missing (empty when the text does not parse)."""
    from jinja2 import TemplateSyntaxError, meta

    try:
        tree = _PARSER.parse(text)
        undeclared = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError:
        return []
    found: list[Reference] = []
    _visit(tree, False, undeclared, found)
    return found


def _chain(node: nodes.Node) -> tuple[str, tuple[str, ...]] | None:
    names: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            names.insert(0, node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            names.insert(0, node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            return node.name, tuple(names)
        else:
            return None


def _visit(
    node: nodes.Node, guarded: bool, undeclared: set[str], found: list[Reference], tested: frozenset[str] = frozenset()
) -> None:
    """Collect the merge fields under ``node``. ``guarded``: a missing value is handled here (a
    default's value, a test, an ``if``'s condition); ``tested``: the fields an enclosing ``if``
    tested, which its body may use as they are (``{% if contact.company %}{{ contact.company }}``)."""
    if isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Name)):
        chain = _chain(node)
        if chain is not None:
            root, names = chain
            if root in undeclared:
                dotted = ".".join((root, *names))
                safe = guarded or any(dotted == t or dotted.startswith(f"{t}.") for t in tested)
                found.append(Reference(root, names, node.lineno, safe))
            if isinstance(node, nodes.Getitem):
                _visit(node.arg, guarded, undeclared, found, tested)
            return
    parts: list[tuple[Any, bool, frozenset[str]]]
    if isinstance(node, nodes.Test) or (isinstance(node, nodes.Filter) and node.name in ("default", "d")):
        parts = [(node.node, True, tested), *((arg, guarded, tested) for arg in node.args)]
    elif isinstance(node, (nodes.If, nodes.CondExpr)):
        inner = tested | _tested(node.test, undeclared)
        body = [*node.body, *node.elif_] if isinstance(node, nodes.If) else [node.expr1]
        rest = list(node.else_) if isinstance(node, nodes.If) else [node.expr2]
        parts = [(node.test, True, tested), *((n, guarded, inner) for n in body), *((n, guarded, tested) for n in rest)]
    elif isinstance(node, (nodes.Or, nodes.And)):
        right = tested | _tested(node.left, undeclared) if isinstance(node, nodes.And) else tested
        parts = [(node.left, True, tested), (node.right, guarded, right)]
    else:
        parts = [(child, guarded, tested) for child in node.iter_child_nodes()]
    for child, child_guarded, child_tested in parts:
        if child is not None:
            _visit(child, child_guarded, undeclared, found, child_tested)


def _tested(test: nodes.Node, undeclared: set[str]) -> frozenset[str]:
    """The fields a condition reads (``contact.company`` in ``{% if contact.company %}``)."""
    found: list[Reference] = []
    _visit(test, True, undeclared, found)
    return frozenset(reference.dotted for reference in found)


# ---------------------------------------------------------------- the checks


def _texts(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string in a dumped settings value, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(item, (*path, str(key)))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _texts(item, (*path, i))


def _quoted_options(name: str, options: list[str], what: str, where: str) -> str:
    close = suggest(name, options)
    if close:
        return f"; did you mean {close.removeprefix(' (did you mean ').removesuffix('?)')!r}?"
    return f"; the {what} there: {', '.join(options)}" if options else f"; there are no {what} there yet"


def _condition_leaves(condition: Any, path: Path) -> Iterator[tuple[Path, BaseModel]]:
    if isinstance(condition, conditions.AllOf):
        for i, part in enumerate(condition.all):
            yield from _condition_leaves(part, (*path, "all", i))
    elif isinstance(condition, conditions.AnyOf):
        for i, part in enumerate(condition.any):
            yield from _condition_leaves(part, (*path, "any", i))
    elif isinstance(condition, conditions.NotCondition):
        yield from _condition_leaves(condition.not_, (*path, "not"))
    elif condition is not None:
        yield (*path, conditions.kind_of(condition) or ""), condition


def _step_conditions(ref: StepRef) -> list[tuple[Path, Any]]:
    step = ref.step
    if isinstance(step, IfStep):
        return [((*ref.path, "if"), step.if_)]
    if isinstance(step, SwitchStep):
        return [((*ref.path, "switch", i, "when"), case.when) for i, case in enumerate(step.switch)]
    if isinstance(step, ActionStep):
        return [((*ref.path, "only_if"), step.only_if)] if step.only_if is not None else []
    if isinstance(step, GoalStep):
        return [((*ref.path, "goal", "condition"), step.goal.condition)] if step.goal.condition else []
    if isinstance(step, WaitUntilStep):
        awaited = step.wait_until.condition
        return [((*ref.path, "wait_until", "condition"), awaited)] if awaited else []
    return []


_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ORDERED = ("gt", "ge", "lt", "le")


class _Checker:
    def __init__(self, maps: Mapping[FilePath, Map], content: Content) -> None:
        self.maps, self.content = maps, content
        self.set_fields: dict[str, str] = {}  # field -> the map that sets it
        self.filled_lists: set[str] = set(content.lists)
        self.trigger_fields: set[str] = set()  # fields a date or field_updated trigger reads: they exist by design
        for map_ in maps.values():
            for trigger in map_.triggers:
                if trigger.kind in ("date_matches", "date_relative", "field_updated"):
                    self.trigger_fields.add(str(getattr(trigger.body, "field", "")))
            for ref in walk(map_):
                if isinstance(ref.step, ActionStep) and ref.step.action == "update_contact":
                    for name in getattr(ref.step.settings, "set", {}):
                        self.set_fields.setdefault(name, map_.id)
                if isinstance(ref.step, ActionStep) and ref.step.action == "add_to_list":
                    self.filled_lists.add(ref.step.settings.list)  # type: ignore[attr-defined]
        self.form_fields: dict[str, dict[str, str]] = {}  # field -> form -> type
        for form_id, fields in content.forms.items():
            for name, type_ in fields.items():
                self.form_fields.setdefault(name, {})[form_id] = type_
        self.used_templates: set[str] = set()
        self.emails: dict[str, list[str]] = {  # map id -> the ids of its send_email steps
            map_.id: sorted(
                ref.step.id
                for ref in walk(map_)
                if isinstance(ref.step, ActionStep) and ref.step.action == "send_email"
                if ref.step.id
            )
            for map_ in maps.values()
        }

    # ------------------------------------------------------------ per map

    def map_problems(self, file: FilePath, map_: Map) -> list[Finding]:
        found: list[Finding] = []

        def add(path: Path, step_id: str | None, message: str) -> None:
            found.append(Finding(str(file), path, step_id, message))

        for i, trigger in enumerate(map_.triggers):
            self._trigger(map_, i, trigger, add)
        for i, goal in enumerate(map_.goals):
            if goal.condition is not None:
                self._condition(map_, ("goals", i, "condition"), goal.condition, None, add)
        for ref in walk(map_):
            if is_stand_in(ref.step):
                continue
            for path, condition in _step_conditions(ref):
                self._condition(map_, path, condition, ref.step.id, add)
            if isinstance(ref.step, ActionStep):
                self._action(map_, ref, ref.step, add)
            awaited = getattr(ref.step, "goal", None) or getattr(ref.step, "wait_until", None)
            if awaited is not None and getattr(awaited, "event", None) is not None:
                key = "goal" if isinstance(ref.step, GoalStep) else "wait_until"
                for sub, text in _texts(awaited.event.where):
                    self._text(map_, (*ref.path, key, "event", "where", *sub), ref.step.id, text, add)
        return found

    def _trigger(self, map_: Map, i: int, trigger: Any, add: Any) -> None:
        body, path = trigger.body, ("triggers", i, trigger.kind)
        if trigger.kind == "form_submitted":
            self._name(path + ("form",), None, body.form, "form", sorted(self.content.forms), "forms", add)
        for key, kind in (("segment", "segment"), ("template", "template")):
            value = getattr(body, key, None)
            if isinstance(value, str):
                self._named(path + (key,), None, value, kind, add)
        value = getattr(body, "list", None)
        if isinstance(value, str) and trigger.kind not in ("added_to_fulfillment", "removed_from_fulfillment"):
            self._list(path + ("list",), None, value, add)
        other, step = getattr(body, "map", None), getattr(body, "step", None)
        if trigger.kind in ("email_sent", "email_opened", "link_clicked") and other and step:
            self._email_of(path + ("step",), None, other, step, add)
        if trigger.only_if is not None:
            self._condition(map_, ("triggers", i, "only_if"), trigger.only_if, None, add)
        value_test = getattr(body, "value", None)
        if isinstance(value_test, conditions.ValueTest):
            self._value_test(path + ("value",), None, getattr(body, "field", ""), value_test, add)

    def _named(self, path: Path, step_id: str | None, name: str, kind: str, add: Any) -> None:
        if kind == "segment":
            self._name(path, step_id, name, "segment", sorted(self.content.segments), "segments", add)
        elif kind == "template":
            self.used_templates.add(name)
            self._name(path, step_id, name, "email template", sorted(self.content.templates), "templates", add)

    def _name(
        self, path: Path, step_id: str | None, name: str, what: str, known: list[str], folder: str, add: Any
    ) -> bool:
        if name in known:
            return True
        where = f"{self.content.folder}/{folder}/"
        add(path, step_id, f"no {what} {name!r} in {where}{_quoted_options(name, known, folder, where)}")
        return False

    def _email_of(self, path: Path, step_id: str | None, map_id: str, email: str, add: Any) -> None:
        """``email`` must be a send_email step (with that id) of the map ``map_id``, when that map is here."""
        emails = self.emails.get(map_id)
        if emails is None or email in emails:
            return  # (a map not among those read: the loader's checks of maps naming maps are elsewhere)
        options = f"; its send_email steps with an id: {', '.join(emails)}" if emails else "; it has none with an id"
        add(path, step_id, f"map {map_id!r} has no send_email step {email!r}{suggest(email, emails)}{options}")

    def _list(self, path: Path, step_id: str | None, name: str, add: Any) -> None:
        if name in self.filled_lists:
            return
        known = sorted(self.filled_lists)
        if suggest(name, known):
            add(
                path,
                step_id,
                f"no map adds contacts to list {name!r} and {self.content.folder}/lists/ does not declare it"
                f"{_quoted_options(name, known, 'lists', '')}",
            )

    def _action(self, map_: Map, ref: StepRef, step: ActionStep, add: Any) -> None:
        action, settings, base = step.action, step.settings, (*ref.path, step.action)
        if action == "send_email" and getattr(settings, "template", None):
            name = settings.template  # type: ignore[attr-defined]
            self.used_templates.add(name)
            if self._name(
                (*base, "template"), step.id, name, "email template", sorted(self.content.templates), "templates", add
            ):
                self._template_fields(map_, (*base, "template"), step.id, name, add)
        connection = getattr(settings, "connection", None)
        if isinstance(connection, str) and not (action == "send_email" and connection == SES):
            self._connection((*base, "connection"), step.id, action, connection, add)
        if action == "add_to_lead_router":
            router = settings.router  # type: ignore[attr-defined]
            self._name((*base, "router"), step.id, router, "lead router", sorted(self.content.routers), "routers", add)
        if action == "remove_from_list":
            self._list((*base, "list"), step.id, settings.list, add)  # type: ignore[attr-defined]
        dumped = settings.model_dump(mode="python", by_alias=True, exclude_defaults=True)
        for sub, text in _texts(dumped):
            self._text(map_, (*base, *sub), step.id, text, add, html=sub[-1:] == ("html",))

    def _connection(self, path: Path, step_id: str | None, action: str, name: str, add: Any) -> None:
        known = sorted(self.content.connections)
        if not self._name(path, step_id, name, "connection", known, "connections", add):
            return
        wanted, actual = CONNECTION_TYPES.get(action), self.content.connections[name]
        if wanted and actual != wanted:
            add(path, step_id, f"connection {name!r} is of type {actual}; {action} takes a {wanted} connection")

    # ------------------------------------------------------------ texts and merge fields

    def _text(
        self, map_: Map, path: Path, step_id: str | None, text: str, add: Any, *, html: bool = False, what: str = ""
    ) -> None:
        if not _TEMPLATED.search(text):
            return
        problem = syntax_problem(text, html=html)
        if problem:
            add(path, step_id, f"{what}{problem}")
            return
        multiline = "\n" in text.strip()
        for reference in references(text):
            message = self._merge_problem(map_, reference)
            if message:
                at = f"line {reference.line}: " if multiline or what else ""
                add(path, step_id, f"{what}{at}{message}")

    def _template_fields(self, map_: Map, path: Path, step_id: str | None, name: str, add: Any) -> None:
        template = self.content.templates[name]
        for part, text in (("subject", template.subject), ("html", template.html), ("text", template.text)):
            if text and not syntax_problem(text, html=part == "html"):  # (syntax: once, on the template's file)
                self._text(
                    map_, path, step_id, text, add, html=part == "html", what=f"email template {name!r} ({part}) "
                )

    def _merge_problem(self, map_: Map, reference: Reference) -> str | None:
        if reference.guarded or not reference.names and reference.root in _ROOTS:
            return None
        root, names = reference.root, reference.names
        if root == "contact":
            return self._contact_problem(reference)
        if root in ("event", "offer"):
            return self._event_problem(map_, reference)
        if root in _GLOBALS or root == "unsubscribe_url":
            return None
        return (
            f"unknown merge field {{{{ {reference.dotted} }}}}{suggest(root, list(_ROOTS))}; merge fields start "
            "with contact., event. or offer."
        ) + ("" if names else f" (e.g. {{{{ contact.{root} }}}})")

    def _contact_problem(self, reference: Reference) -> str | None:
        name = reference.names[0]
        if (
            name in STANDARD_FIELDS
            or name in self.form_fields
            or name in self.set_fields
            or name in self.trigger_fields
        ):
            return None
        known = sorted(STANDARD_FIELDS | set(self.form_fields) | set(self.set_fields))
        return (
            f"{{{{ {reference.dotted} }}}}: no form in {self.content.folder}/forms/ has a field {name!r}, no map's "
            f"update_contact sets it, and it is not a standard contact field{suggest(name, known)}; add it to a "
            f"form, or write {{{{ contact.{name} | default('...') }}}}"
        )

    def _event_problem(self, map_: Map, reference: Reference) -> str | None:
        carried = self._event_keys(map_)
        if carried is None:
            return None
        root, name = reference.root, reference.names[0]
        if root == "offer":
            return (
                f"{{{{ {reference.dotted} }}}}: none of this map's triggers carries an offer (only an event: trigger "
                f"on an ingested event may); write {{{{ {reference.dotted} | default('...') }}}}"
            )
        keys, form_fields = carried
        if name in keys:
            if name == "fields" and len(reference.names) > 1 and form_fields is not None:
                field_name = reference.names[1]
                if field_name not in form_fields:
                    return (
                        f"{{{{ {reference.dotted} }}}}: the forms that start this map have no field {field_name!r}"
                        f"{suggest(field_name, sorted(form_fields))}; their fields: {', '.join(sorted(form_fields))}"
                    )
            return None
        triggers = ", ".join(dict.fromkeys(t.kind for t in map_.entered_by()))
        return (
            f"{{{{ {reference.dotted} }}}}: no trigger of this map ({triggers}) carries {name!r}"
            f"{suggest(name, sorted(keys))}; the event has: {', '.join(sorted(keys))}; or write "
            f"{{{{ {reference.dotted} | default('...') }}}}"
        )

    def _event_keys(self, map_: Map) -> tuple[set[str], set[str] | None] | None:
        """What the event that started the run may hold, over all the map's triggers, and the
        form fields under ``event.fields``; None when a trigger may carry anything."""
        keys: set[str] = set()
        form_fields: set[str] | None = None
        for trigger in map_.entered_by():
            if trigger.kind == "form_submitted":
                fields = self.content.forms.get(trigger.body.form)
                if fields is None:
                    return None
                keys |= _FORM_EVENT
                form_fields = (form_fields or set()) | set(fields)
            elif trigger.kind == "schedule":
                keys |= _SCHEDULE_EVENT
            else:
                kinds = trigger.history_kinds() if hasattr(trigger, "history_kinds") else trigger.listens_to
                if not kinds or any(kind not in EVENT_KEYS for kind in kinds):
                    return None
                for kind in kinds:
                    keys |= _COMMON_EVENT | EVENT_KEYS[kind]
        if "fields" in keys and form_fields is None:
            return None  # (a fulfillment's fields: whatever the step sent)
        return keys, form_fields

    # ------------------------------------------------------------ conditions and value types

    def _condition(self, map_: Map, path: Path, condition: Any, step_id: str | None, add: Any) -> None:
        for leaf_path, leaf in _condition_leaves(condition, path):
            if isinstance(leaf, conditions.OpenedEmail | conditions.ClickedLink):
                ref = leaf.opened_email if isinstance(leaf, conditions.OpenedEmail) else leaf.clicked_link
                if ref.template:
                    self._named((*leaf_path, "template"), step_id, ref.template, "template", add)
                if ref.map not in (None, map_.id) and ref.email:
                    self._email_of((*leaf_path, "email"), step_id, ref.map, ref.email, add)
            elif isinstance(leaf, conditions.LastFormSubmitDate) and leaf.last_form_submit_date.form:
                form = leaf.last_form_submit_date.form
                self._name((*leaf_path, "form"), step_id, form, "form", sorted(self.content.forms), "forms", add)
            elif isinstance(leaf, conditions.OnList):
                self._list((*leaf_path, "list"), step_id, leaf.on_list.list, add)
            elif isinstance(leaf, conditions.FieldCondition):
                self._value_test(leaf_path, step_id, leaf.field.name, leaf.field, add)
            elif isinstance(leaf, conditions.EventAttribute):
                test = leaf.event_attribute
                if test.operator in _ORDERED:
                    self._value_test(leaf_path, step_id, "", test, add)

    def _value_test(self, path: Path, step_id: str | None, name: str, test: conditions.ValueTest, add: Any) -> None:
        op, operand = test.operator, test.operand
        if op not in (*_ORDERED, "eq", "ne"):
            return
        numeric_in = sorted(form for form, type_ in self.form_fields.get(name, {}).items() if type_ == "number")
        is_number = isinstance(operand, int | float | date) and not isinstance(operand, bool)  # (a date: as ISO)
        text_number = isinstance(operand, str) and bool(_NUMBER.fullmatch(operand.strip()))
        if is_number or text_number:
            return
        if numeric_in:
            forms = ", ".join(f"{self.content.folder}/forms/{form}.yaml" for form in numeric_in)
            add(
                (*path, op),
                step_id,
                f"field {name!r} is a number ({forms}), so {op} takes a number, e.g. {op}: 40; got {operand!r}",
            )
        elif op in _ORDERED and not (isinstance(operand, str) and _ISO_DATE.match(operand)):
            add(
                (*path, op),
                step_id,
                f"{op} compares numbers (or ISO dates such as 2026-01-31); got {operand!r}, which is neither: "
                f"write a number, e.g. {op}: 40",
            )

    # ------------------------------------------------------------ the templates themselves

    def template_problems(self) -> list[Finding]:
        """Jinja syntax errors in the email templates (one line per part: subject, html, text)."""
        found = []
        for name in sorted(self.content.templates):
            template = self.content.templates[name]
            for part, text in (("subject", template.subject), ("html", template.html), ("text", template.text)):
                problem = syntax_problem(text, html=part == "html") if text else None
                if problem:
                    found.append(Finding(f"{self.content.folder}/templates/{name}.yaml", (part,), None, problem))
        return found
