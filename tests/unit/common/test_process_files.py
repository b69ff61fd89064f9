"""What a process tells REST about itself: its log directory, a log's tail under the size
cap, only listed files, and its threads' stacks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from strom.common.process_files import (
    LOG_FILE_ENV,
    LogFileError,
    NoLogFileError,
    list_log_files,
    process_log_file,
    read_log_file,
    thread_dump,
)


def test_the_log_file_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.delenv(LOG_FILE_ENV, raising=False)
    assert process_log_file() is None
    with pytest.raises(NoLogFileError, match="runs inside a program"):
        list_log_files(None, "JobManager")
    monkeypatch.setenv(LOG_FILE_ENV, str(tmp_path / "jobmanager.log"))
    assert process_log_file() == tmp_path / "jobmanager.log"


def test_a_long_log_is_served_by_its_tail(tmp_path: Path) -> None:
    log = tmp_path / "taskmanager-0.log"
    log.write_text("old\n" * 10 + "newest line\n")
    assert read_log_file(log, max_bytes=12) == "newest line\n"
    assert read_log_file(log).startswith("old\n")


def test_only_the_listed_files_of_the_log_directory_are_served(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "jobmanager.log"
    log.parent.mkdir()
    log.write_text("jm\n")
    (log.parent / "jobmanager.pid").write_text("1\n")
    (log.parent / "sub").mkdir()
    (tmp_path / "secret.txt").write_text("no\n")
    assert [f.name for f in list_log_files(log)] == ["jobmanager.log"]
    for name in ("jobmanager.pid", "sub", "../secret.txt", str(tmp_path / "secret.txt")):
        with pytest.raises(LogFileError, match="no log file"):
            read_log_file(log, name, process="JobManager")


def test_the_thread_dump_shows_each_threads_stack() -> None:
    parked = threading.Event()
    release = threading.Event()

    def waits_here() -> None:
        parked.set()
        release.wait(30)

    thread = threading.Thread(target=waits_here, name="dump-me", daemon=True)
    thread.start()
    try:
        assert parked.wait(10)
        dump = {t.thread_name: t.stringified_thread_info for t in thread_dump()}
        assert dump["dump-me"].startswith('"dump-me" daemon Id=')
        assert "in waits_here" in dump["dump-me"]
        assert "test_the_thread_dump_shows_each_threads_stack" in dump["MainThread"]
    finally:
        release.set()
        thread.join(10)
