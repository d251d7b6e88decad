"""Every test here starts from a clean Keras session (tests/support.py)."""

from tests.support import fresh_session  # noqa: F401  (an autouse fixture)
