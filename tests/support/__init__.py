"""What the tests share: fixtures (loaded through `pytest_plugins` in tests/conftest.py), helpers,
and the scripts that tests start as child processes."""

from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
TESTS = SUPPORT.parent
