"""SlotSharingGroup and MemorySize (PyFlink's surface), and how slot_sharing_group() uses
them: the group's name drives sharing, resources are recorded on the job."""

from __future__ import annotations

import pytest

from strom.common import WatermarkStrategy
from strom.datastream import (
    DataStream,
    MemorySize,
    SlotSharingGroup,
    StreamExecutionEnvironment,
)
from strom.graph.job_graph import JobGraph
from strom.graph.stream_graph import GraphBuildError
from strom.testing import CollectSink, TestingSource


def make_env(parallelism: int = 2) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment(None)
    env.set_parallelism(parallelism)
    return env


def source(env: StreamExecutionEnvironment) -> DataStream:
    return env.from_source(TestingSource([1, 2, 3]), WatermarkStrategy.no_watermarks(), "src")


def job_graph(env: StreamExecutionEnvironment) -> JobGraph:
    return env._job_graph(None)


def heavy(cpu: float = 1.0, heap_mb: int = 100) -> SlotSharingGroup:
    return SlotSharingGroup.builder("heavy").set_cpu_cores(cpu).set_task_heap_memory_mb(
        heap_mb).build()


# ---------------------------------------------------------------- MemorySize
def test_memory_size_units_and_text() -> None:
    size = MemorySize.of_mebi_bytes(1536)
    assert size.get_bytes() == 1536 << 20
    assert (size.get_kibi_bytes(), size.get_mebi_bytes(), size.get_gibi_bytes()) == (
        1536 << 10, 1536, 1)
    assert MemorySize(2 << 40).get_tebi_bytes() == 2
    assert str(size) == "1536 mb" and str(MemorySize(100)) == "100 bytes"
    assert str(MemorySize.of_mebi_bytes(2048)) == "2 gb"


def test_memory_size_compares_and_hashes_by_bytes() -> None:
    assert MemorySize(1 << 20) == MemorySize.of_mebi_bytes(1)
    assert len({MemorySize(1 << 20), MemorySize.of_mebi_bytes(1)}) == 1
    assert MemorySize(1) < MemorySize(2) and MemorySize(2) <= MemorySize(2)
    assert not MemorySize(3) <= MemorySize(2)
    with pytest.raises(TypeError, match="compares only with a MemorySize"):
        assert MemorySize(1) < 2  # type: ignore[operator]


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_memory_size_rejects_what_is_not_a_byte_count(bad: object) -> None:
    with pytest.raises(ValueError, match="non-negative number of bytes"):
        MemorySize(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- SlotSharingGroup
def test_builder_with_resources_and_getters() -> None:
    ssg = (SlotSharingGroup.builder("heavy").set_cpu_cores(2.5).set_task_heap_memory_mb(100)
           .set_task_off_heap_memory_mb(10).set_managed_memory_mb(20)
           .set_external_resource("gpu", 1).build())
    assert ssg.get_name() == "heavy"
    assert ssg.get_cpu_cores() == 2.5
    assert ssg.get_task_heap_memory() == MemorySize.of_mebi_bytes(100)
    assert ssg.get_task_off_heap_memory() == MemorySize.of_mebi_bytes(10)
    assert ssg.get_managed_memory() == MemorySize.of_mebi_bytes(20)
    assert ssg.get_external_resources() == {"gpu": 1.0}


def test_builder_with_memory_size_objects_defaults_the_optional_memory_to_zero() -> None:
    ssg = (SlotSharingGroup.builder("g").set_cpu_cores(1)
           .set_task_heap_memory(MemorySize.of_mebi_bytes(64)).build())
    assert ssg.get_task_heap_memory() == MemorySize.of_mebi_bytes(64)
    assert ssg.get_task_off_heap_memory() == MemorySize(0)
    assert ssg.get_managed_memory() == MemorySize(0)


def test_a_group_without_resources_has_only_a_name() -> None:
    ssg = SlotSharingGroup.builder("light").build()
    assert ssg.get_name() == "light"
    assert ssg.get_cpu_cores() is None and ssg.get_task_heap_memory() is None
    assert ssg.get_managed_memory() is None and ssg.get_external_resources() == {}


def test_equality_is_by_name_and_resources() -> None:
    assert heavy() == heavy() and hash(heavy()) == hash(heavy())
    assert heavy() != heavy(cpu=2.0)
    assert heavy() != SlotSharingGroup.builder("heavy").build()
    assert SlotSharingGroup.builder("a").build() == SlotSharingGroup.builder("a").build()
    assert SlotSharingGroup.builder("a").build() != SlotSharingGroup.builder("b").build()


@pytest.mark.parametrize("partial", [
    lambda b: b.set_cpu_cores(1.0),
    lambda b: b.set_task_heap_memory_mb(100),
    lambda b: b.set_managed_memory_mb(10),
    lambda b: b.set_external_resource("gpu", 1),
])
def test_resources_need_cpu_cores_and_task_heap_memory(partial: object) -> None:
    builder = SlotSharingGroup.builder("g")
    partial(builder)  # type: ignore[operator]
    with pytest.raises(ValueError, match="cpu cores and task heap memory are required"):
        builder.build()


@pytest.mark.parametrize(("setter", "value", "message"), [
    ("set_cpu_cores", 0, "cpu cores should be positive"),
    ("set_cpu_cores", -1.0, "cpu cores should be positive"),
    ("set_task_heap_memory_mb", 0, "task heap memory should be a positive"),
    ("set_task_heap_memory", MemorySize(0), "task heap memory should be positive"),
    ("set_managed_memory_mb", -1, "managed memory should be a non-negative"),
    ("set_task_heap_memory", 100, "takes a MemorySize"),
])
def test_builder_rejects_bad_values(setter: str, value: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        getattr(SlotSharingGroup.builder("g"), setter)(value)


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_group_needs_a_name(name: object) -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        SlotSharingGroup.builder(name)  # type: ignore[arg-type]


# ---------------------------------------------------------------- slot_sharing_group()
def test_the_name_drives_sharing_whether_given_as_str_or_group() -> None:
    env = make_env(2)
    (source(env).map(lambda x: x).set_parallelism(3).slot_sharing_group("heavy")
     .map(lambda x: x).set_parallelism(4).slot_sharing_group(heavy())
     .sink_to(CollectSink()).set_parallelism(1).slot_sharing_group(
         SlotSharingGroup.builder("sinks").build()))
    graph = job_graph(env)
    assert [v.slot_sharing_group for v in graph.vertices] == [
        "default", "heavy", "heavy", "sinks"]
    assert graph.max_parallelism_needed() == {"default": 2, "heavy": 4, "sinks": 1}


def test_resources_are_recorded_on_the_job_graph() -> None:
    env = make_env(1)
    source(env).map(lambda x: x).slot_sharing_group(heavy()).sink_to(CollectSink())
    graph = job_graph(env)
    assert graph.slot_sharing_groups == {"heavy": heavy()}


def test_registered_group_gives_resources_to_operators_naming_it() -> None:
    env = make_env(1)
    env.register_slot_sharing_group(heavy())
    source(env).map(lambda x: x).slot_sharing_group("heavy").sink_to(CollectSink())
    graph = job_graph(env)
    assert graph.slot_sharing_groups == {"heavy": heavy()}
    assert graph.vertices[1].slot_sharing_group == "heavy"


def test_one_group_name_with_two_resource_specs_is_an_error() -> None:
    env = make_env(1)
    env.register_slot_sharing_group(heavy(cpu=1.0))
    source(env).map(lambda x: x).slot_sharing_group(heavy(cpu=2.0)).sink_to(CollectSink())
    with pytest.raises(GraphBuildError, match="'heavy' has been configured with two different"):
        job_graph(env)


def test_the_same_resources_twice_are_fine() -> None:
    env = make_env(1)
    (source(env).map(lambda x: x).slot_sharing_group(heavy())
     .map(lambda x: x).slot_sharing_group(heavy()).sink_to(CollectSink()))
    assert job_graph(env).slot_sharing_groups == {"heavy": heavy()}


def test_slot_sharing_group_on_a_sink_takes_a_group() -> None:
    env = make_env(1)
    source(env).sink_to(CollectSink()).slot_sharing_group(heavy())
    graph = job_graph(env)
    assert graph.vertices[-1].slot_sharing_group == "heavy"
    assert graph.slot_sharing_groups == {"heavy": heavy()}


@pytest.mark.parametrize("bad", [3, None, ["a"]])
def test_slot_sharing_group_rejects_other_types(bad: object) -> None:
    env = make_env(1)
    with pytest.raises(TypeError, match="takes the group's name"):
        source(env).map(lambda x: x).slot_sharing_group(bad)  # type: ignore[arg-type]


def test_register_slot_sharing_group_takes_a_group() -> None:
    with pytest.raises(TypeError, match="takes a SlotSharingGroup"):
        make_env().register_slot_sharing_group("heavy")  # type: ignore[arg-type]


def test_a_job_with_slot_sharing_groups_runs(strom_env: StreamExecutionEnvironment) -> None:
    sink = CollectSink()
    (source(strom_env).map(lambda x: x * 10).slot_sharing_group(heavy())
     .sink_to(sink).slot_sharing_group("heavy"))
    strom_env.execute()
    assert sorted(sink.results) == [10, 20, 30]
