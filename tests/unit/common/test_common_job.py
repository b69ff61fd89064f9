import pickle
from concurrent.futures import Future
from typing import Any

import pytest

from strom.common import JobClient, JobExecutionResult, JobID, JobStatus, RuntimeExecutionMode


def test_job_id_generate_and_parse() -> None:
    job_id = JobID.generate()
    text = job_id.to_hex_string()
    assert len(text) == 32 and text == text.lower() and str(job_id) == text
    assert JobID.from_hex_string(text) == job_id
    assert JobID.from_hex_string(text.upper()) == job_id
    assert hash(JobID.from_hex_string(text)) == hash(job_id)
    assert JobID.generate() != job_id
    assert JobID.from_bytes(job_id.to_bytes()) == job_id
    assert pickle.loads(pickle.dumps(job_id)) == job_id
    assert repr(JobID("ab" * 16)) == f"JobID('{'ab' * 16}')"


@pytest.mark.parametrize("bad", ["", "abc", "g" * 32, "0" * 31, "0" * 33, " " + "0" * 31])
def test_job_id_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="A JobID is 32 hexadecimal digits") as info:
        JobID.from_hex_string(bad)
    assert repr(bad) in str(info.value)


def test_job_id_rejects_non_str() -> None:
    with pytest.raises(ValueError, match="32 hexadecimal digits"):
        JobID(1234)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="16 bytes"):
        JobID.from_bytes(b"short")


def test_job_status() -> None:
    assert [s.name for s in JobStatus] == [
        "INITIALIZING", "CREATED", "RUNNING", "FAILING", "FAILED", "CANCELLING", "CANCELED",
        "FINISHED", "RESTARTING", "SUSPENDED", "RECONCILING",
    ]  # fmt: skip
    globally = {s for s in JobStatus if s.is_globally_terminal_state()}
    terminal = {s for s in JobStatus if s.is_terminal_state()}
    assert globally == {JobStatus.FINISHED, JobStatus.CANCELED, JobStatus.FAILED}
    assert terminal == globally | {JobStatus.SUSPENDED}
    assert JobStatus("RUNNING") is JobStatus.RUNNING


def test_job_execution_result() -> None:
    job_id = JobID("0" * 32)
    result = JobExecutionResult(job_id, 1500, {"count": 3})
    assert result.get_job_id() == job_id
    assert result.get_net_runtime() == 1500
    assert result.get_accumulator_result("count") == 3
    assert result.get_accumulator_result("missing") is None
    assert result.get_all_accumulator_results() == {"count": 3}
    assert result.is_job_execution_result()
    assert result.get_job_execution_result() is result
    assert str(result) == (
        "JobExecutionResult(job_id=00000000000000000000000000000000, net_runtime=1500 ms, "
        "accumulators={'count': 3})"
    )
    assert pickle.loads(pickle.dumps(result)) == result


def test_job_client_is_abstract_and_implementable() -> None:
    with pytest.raises(TypeError):
        JobClient()  # type: ignore[abstract]

    def done(value: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(value)
        return future

    class FinishedJobClient(JobClient):
        def __init__(self) -> None:
            self.job_id = JobID.generate()

        def get_job_id(self) -> JobID:
            return self.job_id

        def get_job_status(self) -> Future[JobStatus]:
            return done(JobStatus.FINISHED)

        def cancel(self) -> Future[None]:
            return done(None)

        def stop_with_savepoint(
            self, advance_to_end_of_event_time: bool, savepoint_directory: str | None = None
        ) -> Future[str]:
            return done(f"{savepoint_directory}/savepoint-1")

        def trigger_savepoint(self, savepoint_directory: str | None = None) -> Future[str]:
            return done(f"{savepoint_directory}/savepoint-2")

        def get_accumulators(self) -> Future[dict[str, Any]]:
            return done({})

        def get_job_execution_result(self) -> Future[JobExecutionResult]:
            return done(JobExecutionResult(self.job_id, 1))

    client = FinishedJobClient()
    assert client.get_job_status().result() is JobStatus.FINISHED
    assert client.stop_with_savepoint(True, "/tmp/sp").result() == "/tmp/sp/savepoint-1"
    assert client.get_job_execution_result().result().get_job_id() == client.get_job_id()


def test_runtime_execution_mode() -> None:
    assert [(m.name, m.value) for m in RuntimeExecutionMode] == [
        ("STREAMING", 0),
        ("BATCH", 1),
        ("AUTOMATIC", 2),
    ]
