from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, external_stack, start_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    external = external_stack()
    if external:
        yield external
        return
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    running.process.stop()


@pytest.fixture
def managed(stack: Stack) -> Stack:
    """For tests that start and stop processes themselves: not possible against E2E_BASE_URL."""
    if not stack.managed:
        pytest.skip("E2E_BASE_URL points at a stack this test run does not control")
    return stack
