"""The date triggers' specifications share moto (tests/conftest.py) and the local runtime (tests/e2e)."""

from tests.e2e.conftest import runtime  # noqa: F401  (the fixture)
