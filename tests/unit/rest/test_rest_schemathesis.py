"""Schemathesis over the generated OpenAPI document (``/v1/openapi.json``) against a live
MiniCluster running a job: every operation gets generated requests (valid and invalid ones,
plus the running job's, vertex's and TaskManager's ids as examples), and no answer may be a
server error or a status code the document does not declare."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance
from test_rest_cluster_endpoints import get

from strom.client.rest_cluster_client import RestClusterClient
from strom.common import WatermarkStrategy
from strom.common.job import JobStatus
from strom.datastream import StreamExecutionEnvironment
from strom.jobmanager.rest.specs import ALL_SPECS
from strom.minicluster import MiniCluster
from strom.testing import CollectSink, Latch, TestingSource
from strom.testing.sync import wait_until

#: examples per operation: all operations stay well under a minute together
MAX_EXAMPLES = 8


@pytest.fixture(scope="module")
def live_cluster() -> Iterator[tuple[MiniCluster, dict[str, str]]]:
    """A MiniCluster with REST on a free port and a job that runs until the module ends;
    the ids a request may name."""
    latch = Latch()
    with MiniCluster(num_task_managers=1, slots_per_task_manager=2, rest_port=0) as cluster:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(1)
        env.from_source(TestingSource([1, TestingSource.AWAIT(latch), 2]),
                        WatermarkStrategy.no_watermarks(), "numbers").map(lambda x: x) \
            .sink_to(CollectSink())
        job = RestClusterClient(cluster.rest_url).submit(env._job_graph("fuzzed"))
        wait_until(lambda: job.get_job_status().result(timeout=10) is JobStatus.RUNNING,
                   what="the job to run")
        _, details = get(cluster, f"/jobs/{job.get_job_id()}")
        ids = {"jobid": str(job.get_job_id()), "vertexid": details["vertices"][0]["id"],
               "taskmanagerid": str(cluster.task_executors[0].resource_id),
               "subtaskindex": "0", "attempt": "0"}
        try:
            yield cluster, ids
        finally:
            latch.trigger()


@pytest.fixture(scope="module")
def api_schema(live_cluster: tuple[MiniCluster, dict[str, str]]) -> Any:
    cluster, _ = live_cluster
    status, document = get(cluster, "/v1/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=cluster.rest_url)
    return schema


def _operations(schema: Any) -> list[Any]:
    """Every operation, the reading ones first: a cancel or stop with the live job's id
    comes after everything that reads the running job."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: (op.method.upper() != "GET", op.path))


def _run(operation: Any, mode: GenerationMode, path_parameters: dict[str, Any] | None
         ) -> None:
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        response = case.call(timeout=30)
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

    run()


def test_no_generated_request_gets_a_server_error_or_an_undeclared_status(
        live_cluster: tuple[MiniCluster, dict[str, str]], api_schema: Any) -> None:
    _, ids = live_cluster
    operations = _operations(api_schema)
    assert len(operations) == len(ALL_SPECS)
    failures = []
    for operation in operations:
        names = [p.name for p in operation.path_parameters]
        live = {name: ids[name] for name in names if name in ids}
        attempts: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if live:
            attempts.append((GenerationMode.POSITIVE, live))
        for mode, path_parameters in attempts:
            try:
                _run(operation, mode, path_parameters)
            except Unsatisfiable:
                # nothing to make invalid: an operation without parameters or body, or a
                # file name (any non-empty path segment is a valid one)
                assert mode is GenerationMode.NEGATIVE, operation.path
            except Exception as e:  # collect them all, then fail with every one
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}"
                                f"{', live ids' if path_parameters else ''}): {e}")
    assert not failures, "\n\n".join(failures)
