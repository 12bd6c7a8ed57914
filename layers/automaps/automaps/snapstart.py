"""Lambda SnapStart: what each execution environment restored from the snapshot makes its own.

Every function publishes versions with SnapStart (template.yaml, ``Globals.Function``): Lambda
runs the init phase (the handler module's imports) once per published version, snapshots the
memory, and resumes every new execution environment from that one snapshot. Whatever init left
in memory is therefore shared by all of them, so init must hold nothing that has to differ
between environments or that goes stale:

- AWS clients and their connections: :mod:`automaps.aws` makes them on first use, in an
  invocation, never at import (tests/test_cold_start.py checks every handler); a client made
  before the snapshot anyway would carry its connections, and the objects built on it (the
  idempotency store, the secrets provider, the registries' caches, all keyed on the client) would
  follow it, so :func:`after_restore` drops them;
- randomness: the ``random`` module seeds itself from the OS when first imported, during init,
  so every restored environment would draw the same sequence (the retry jitter of
  automaps.store and of botocore: synchronized retries). :func:`after_restore` re-seeds it from
  ``os.urandom`` (``secrets``, ``uuid.uuid4`` and ``os.urandom`` read the kernel's generator at
  each call and need nothing);
- secrets, the HTTP pool, ids and timestamps: fetched, made and read in invocations, never at
  import.

A handler that imports a module lazily (needed on some paths only, so that a regular cold start
does not pay for it) names it with :func:`prime`: imported before the snapshot, it is in every
restored environment.

The hooks are registered with the runtime's SnapStart hook library, ``snapshot_restore_py``,
which the Python managed runtimes include (it is not one of the layer's requirements); where it
is missing (the local runtime) nothing is registered and the hooks are ordinary functions.
Importing :mod:`automaps` imports this module, so every handler registers :func:`after_restore`.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Any

RUNTIME_HOOKS = "snapshot_restore_py"  # provided by the Lambda Python runtime, not shipped in the layer


def after_restore() -> None:
    """Run by Lambda in each execution environment resumed from the snapshot, before its first event."""
    random.seed()  # from os.urandom: a sequence of this environment's own
    from automaps import aws

    aws.reset()


def prime(*modules: str) -> bool:
    """Modules a handler imports lazily, on the paths that need them, which a snapshot should hold
    anyway: imported before Lambda takes the snapshot (a regular cold start still imports them
    only when a path needs them). False where the runtime's hook library is absent."""
    if _runtime_hooks is None:
        return False
    _runtime_hooks.register_before_snapshot(import_all, *modules)
    return True


def import_all(*modules: str) -> None:
    for name in modules:
        importlib.import_module(name)


def _hooks() -> Any | None:
    try:
        return importlib.import_module(RUNTIME_HOOKS)
    except ImportError:
        return None


def _register(hook: Callable[[], None]) -> bool:
    """Register ``hook`` to run after a restore; False where the runtime's hook library is absent."""
    if _runtime_hooks is None:
        return False
    _runtime_hooks.register_after_restore(hook)
    return True


_runtime_hooks = _hooks()
registered = _register(after_restore)
