"""The unit tier needs neither Spark nor the LLM: asking for either fails the test here, so a test
that does belongs in tests/integration (and `make test-fast` stays fast)."""

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.fail("a unit test asked for Spark: move it to tests/integration")


@pytest.fixture(scope="session")
def embedded_gguf():
    pytest.fail("a unit test asked for the LLM: move it to tests/integration")


@pytest.fixture(scope="session")
def counting():
    pytest.fail("a unit test asked for the LLM: move it to tests/integration")
