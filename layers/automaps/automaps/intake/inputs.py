"""Hostile input at the public endpoints: bodies, JSON, numbers and text as anyone may post them.

Every public endpoint (forms, page visits, ingestion) reads its body through here, so that no
input makes a handler fail (a 5xx): what cannot be read is a :class:`BadInput`, answered 400 (413
for size) naming the field and the reason, before anything is stored.

- the body: API Gateway's base64 (binary content types) must be valid base64; the text must be
  valid in its declared charset (UTF-8 when none is declared); a lone surrogate is refused;
- JSON: strict (``NaN``/``Infinity`` are not JSON), integers of at most :data:`MAX_INT_DIGITS`
  digits (Python refuses 4,300), decimals kept exact, nesting at most :data:`MAX_DEPTH` deep;
- numbers: what DynamoDB holds, at most 38 significant digits and a magnitude in
  [1e-130, 1e126) (or zero) (:func:`dynamodb_number`);
- text: no control characters (:func:`clean_text`), ``\\t \\n \\r`` only where multi-line text is
  wanted.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_INT_DIGITS = 100
MAX_DEPTH = 32
DYNAMODB_DIGITS = 38
_SMALLEST = Decimal("1E-130")
_TOO_LARGE = Decimal("1E+126")


class BadInput(ValueError):
    """Input the endpoint cannot take: ``status`` 400 or 413, ``errors`` ``[{"field", "error"}]``."""

    def __init__(self, field: str, error: str, status: int = 400) -> None:
        super().__init__(f"{field}: {error}")
        self.status = status
        self.errors = [{"field": field, "error": error}]


# ------------------------------------------------------------------ bodies


def body_bytes(body: str | None, is_base64: bool, *, limit: int) -> bytes:
    """The bytes of an API Gateway proxy event's body; raises BadInput (413 over ``limit`` bytes)."""
    if not body:
        return b""
    if len(body) > 2 * limit:  # no decoding of what is too large anyway (base64 is 4/3 of the bytes)
        raise BadInput("body", f"is larger than {limit} bytes", 413)
    if is_base64:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadInput("body", "is marked base64-encoded but is not valid base64") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadInput("body", f"is not valid text (a lone surrogate at character {exc.start})") from None
    if len(raw) > limit:
        raise BadInput("body", f"is larger than {limit} bytes", 413)
    return raw


def charset(content_type: str | None) -> str:
    """The charset a Content-Type declares (``utf-8`` when none); BadInput for one we do not know."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"').lower() or "utf-8"
            try:
                return codecs.lookup(name).name
            except LookupError:
                raise BadInput("content-type", f"charset {name[:40]!r} is not known; send UTF-8") from None
    return "utf-8"


def body_text(raw: bytes, content_type: str | None) -> str:
    """The body decoded in its declared charset (UTF-8 by default); BadInput when it is not."""
    encoding = charset(content_type)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadInput(
            "body", f"is not valid {encoding} (byte 0x{raw[exc.start]:02x} at position {exc.start}); send UTF-8"
        ) from None


# ------------------------------------------------------------------ JSON


def _constant(name: str) -> Any:
    raise BadInput("body", f"{name} is not a JSON value; send a number or null")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadInput("body", f"has an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def load_json(text: str | bytes, *, field: str = "body") -> Any:
    """Strict JSON: no NaN/Infinity, integers of at most MAX_INT_DIGITS digits, decimals as exact
    ``Decimal``, at most MAX_DEPTH levels of nesting. Raises BadInput saying what is wrong."""
    try:
        data = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise BadInput(field, f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    except UnicodeDecodeError as exc:
        raise BadInput(field, f"is not valid UTF-8 (at position {exc.start})") from None
    except RecursionError:
        raise BadInput(field, f"is nested more than {MAX_DEPTH} levels deep") from None
    if depth(data) > MAX_DEPTH:
        raise BadInput(field, f"is nested more than {MAX_DEPTH} levels deep")
    return data


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        current, level = pending.pop()
        if isinstance(current, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                pending.extend(
                    (child, level + 1) for child in (current.values() if isinstance(current, dict) else current)
                )
    return deepest


def plain_numbers(value: Any) -> Any:
    """``value`` with the exact Decimals of :func:`load_json` as floats (ints stay ints), for
    models that expect JSON's usual types."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


# ------------------------------------------------------------------ numbers and text


def dynamodb_number(value: Any) -> int | float:
    """A number DynamoDB can hold, from a number or its text; raises ValueError saying why not.

    Booleans are not numbers. Whole numbers below 10**38 stay ints, others become floats."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError("must be a number")
    try:
        number = (
            Decimal(value.strip())
            if isinstance(value, str)
            else Decimal(str(value))
            if isinstance(value, float)
            else Decimal(value)
        )
    except (InvalidOperation, ValueError):
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    magnitude = abs(number)
    if magnitude and not _SMALLEST <= magnitude < _TOO_LARGE:
        raise ValueError("is out of range: a number is 0 or between 1e-130 and 1e126 in magnitude")
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")  # normalize() would round to 28
    if len(digits) > DYNAMODB_DIGITS:
        raise ValueError(f"has more than {DYNAMODB_DIGITS} significant digits")
    if number == number.to_integral_value() and magnitude < 10**DYNAMODB_DIGITS:
        return int(number)
    return float(number)


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first control character in ``value`` (``\\t \\n \\r`` allowed when ``multiline``), if any."""
    allowed = "\t\n\r" if multiline else ""
    for ch in value:
        if ch not in allowed and (unicodedata.category(ch) in ("Cc", "Cs") or ch in "\u2028\u2029"):
            return ch
    return None


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` if it holds no control character; raises ValueError naming the first one."""
    found = control_character(value, multiline=multiline)
    if found is not None:
        kind = "control character" if unicodedata.category(found) != "Cs" else "lone surrogate"
        where = "" if multiline else " (this field is one line)"
        raise ValueError(f"contains the {kind} U+{ord(found):04X}{where}")
    return value
