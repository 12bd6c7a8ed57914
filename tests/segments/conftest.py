"""The local runtime of the journey specifications (tests/e2e), for the segment journeys here."""

from tests.e2e.conftest import runtime  # noqa: F401  (the fixture)
