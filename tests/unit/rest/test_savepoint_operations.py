"""The Dispatcher's asynchronous operations (what REST polls by trigger id) and the savepoint
path helpers, without a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from strom.jobmanager.savepoints import (
    STORE_DURATION_S,
    NoSavepointDirectoryError,
    OperationCache,
    OperationResult,
    UnknownOperationError,
    check_format,
    display_path,
    resolve_target_directory,
    storage_path,
)


def test_operations_run_once_report_their_result_and_expire() -> None:
    now = [0.0]

    async def scenario() -> None:
        tasks: list[asyncio.Task[Any]] = []

        def spawn(coro: Any) -> asyncio.Task[Any]:
            tasks.append(asyncio.get_running_loop().create_task(coro))
            return tasks[-1]

        cache = OperationCache(spawn, clock=lambda: now[0])
        release = asyncio.Event()
        runs = []

        async def savepoint() -> str:
            runs.append(1)
            await release.wait()
            return "file:/sp/savepoint-abcdef-0123456789ab"

        def located(path: str) -> OperationResult:
            return OperationResult("COMPLETED", location=path)

        cache.start("savepoint:1", savepoint(), located)
        cache.start("savepoint:1", savepoint(), located)  # a retried trigger: not run again
        await asyncio.sleep(0)
        assert cache.get("savepoint:1", "x") == OperationResult("IN_PROGRESS")
        release.set()
        await asyncio.gather(*tasks)
        assert runs == [1]
        assert cache.get("savepoint:1", "x").location == "file:/sp/savepoint-abcdef-0123456789ab"

        async def failing() -> str:
            raise OSError("no space left")

        cache.start("savepoint:2", failing(), located)
        await asyncio.gather(*tasks)
        failure = cache.get("savepoint:2", "x").failure
        assert failure is not None and failure.type_name == "builtins.OSError"
        assert isinstance(failure.rebuild(), OSError)

        now[0] += STORE_DURATION_S + 1
        with pytest.raises(UnknownOperationError, match="There is no savepoint 1"):
            cache.get("savepoint:1", "savepoint 1")

    asyncio.run(scenario())


def test_target_directory_and_format() -> None:
    assert resolve_target_directory(None, None, "/cluster") == "/cluster"
    assert resolve_target_directory("/mine", "/job", "/cluster") == "/mine"
    assert resolve_target_directory(None, "/job", "/cluster") == "/job"
    with pytest.raises(NoSavepointDirectoryError, match="No savepoint directory configured"):
        resolve_target_directory(None, None, None)
    assert check_format("CANONICAL") == "canonical"
    with pytest.raises(ValueError, match="Unknown savepoint format 'zip'"):
        check_format("zip")


@pytest.mark.parametrize(("given", "stored"), [
    ("file:/a/b", "file:///a/b"),
    ("file:///a/b", "file:///a/b"),
    ("/a/b", "file:///a/b"),
    ("memory://sp/x", "memory://sp/x"),
])
def test_paths_users_give_back(given: str, stored: str) -> None:
    assert storage_path(given) == stored
    if stored.startswith("file://"):
        assert display_path(stored) == "file:/a/b"  # as Flink prints a local path
