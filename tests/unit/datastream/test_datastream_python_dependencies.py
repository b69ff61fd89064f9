"""add_python_file, add_python_archive, set_python_requirements, set_python_executable,
add_jars and add_classpaths: recorded under Flink's keys, checked, carried by the JobGraph;
python files importable by the job's functions in the local cluster."""

from __future__ import annotations

import os
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from strom.common import Configuration
from strom.datastream import StreamExecutionEnvironment
from strom.graph.python_dependencies import PythonDependencies
from strom.runtime.python_path import acquire_python_path, release_python_path
from strom.testing import CollectSink, wait_until


def make_env(configuration: Configuration | None = None) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment(configuration)
    env.set_parallelism(1)
    return env


def module_file(directory: Path, body: str = "def plus(x):\n    return x + 100\n") -> Path:
    """A uniquely named module (imports are cached per name for the whole test session)."""
    path = directory / f"dep_{uuid.uuid4().hex}.py"
    path.write_text(body)
    return path


def zip_of(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return path


def config_of(env: StreamExecutionEnvironment, key: str) -> str:
    return env._configuration.get_string(key, "")


def job_graph(env: StreamExecutionEnvironment) -> Any:
    env.from_collection([1]).sink_to(CollectSink())
    return env._job_graph(None)


# ---------------------------------------------------------------- recording
def test_add_python_file_records_newest_first_under_python_files(tmp_path: Path) -> None:
    env = make_env()
    first, second = module_file(tmp_path), module_file(tmp_path)
    env.add_python_file(str(first))
    env.add_python_file(str(second))
    env.add_python_file(str(tmp_path))
    assert config_of(env, "python.files") == f"{tmp_path},{second},{first}"


def test_add_python_archive_records_archive_and_target_dir(tmp_path: Path) -> None:
    env = make_env()
    a = zip_of(tmp_path / "a.zip", {"x.txt": "x"})
    b = zip_of(tmp_path / "venv.zip", {"py_env/bin/python": ""})
    env.add_python_archive(str(a))
    env.add_python_archive(str(b), "myenv")
    assert config_of(env, "python.archives") == f"{a},{b}#myenv"


def test_set_python_requirements_and_executable(tmp_path: Path) -> None:
    env = make_env()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six\n")
    env.set_python_requirements(str(requirements))
    assert config_of(env, "python.requirements") == str(requirements)
    env.set_python_requirements(str(requirements), str(tmp_path))
    assert config_of(env, "python.requirements") == f"{requirements}#{tmp_path}"
    env.set_python_executable("venv.zip/venv/bin/python")  # may lie inside an archive
    assert config_of(env, "python.executable") == "venv.zip/venv/bin/python"


# ---------------------------------------------------------------- checks
def test_a_missing_python_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.py"
    with pytest.raises(FileNotFoundError, match=r"python file '.*nowhere\.py' does not exist"):
        make_env().add_python_file(str(missing))


def test_a_missing_archive_or_requirements_file_is_an_error_naming_it(tmp_path: Path) -> None:
    env = make_env()
    with pytest.raises(FileNotFoundError, match=r"python archive '.*env\.zip' does not exist"):
        env.add_python_archive(str(tmp_path / "env.zip"))
    with pytest.raises(FileNotFoundError, match=r"requirements file '.*req\.txt' does not"):
        env.set_python_requirements(str(tmp_path / "req.txt"))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("")
    with pytest.raises(FileNotFoundError, match=r"requirements cache directory '.*cache'"):
        env.set_python_requirements(str(requirements), str(tmp_path / "cache"))
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        env.set_python_requirements(str(requirements), str(requirements))


def test_an_archive_must_be_a_zip_file(tmp_path: Path) -> None:
    tarball = tmp_path / "env.tar.gz"
    tarball.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a zip file"):
        make_env().add_python_archive(str(tarball))


@pytest.mark.parametrize("target_dir", ["", "a/b", "a,b", "a#b"])
def test_an_archive_target_dir_is_a_plain_name(tmp_path: Path, target_dir: str) -> None:
    archive = zip_of(tmp_path / "a.zip", {"x": ""})
    with pytest.raises(ValueError, match="target_dir must be a plain directory name"):
        make_env().add_python_archive(str(archive), target_dir)


@pytest.mark.parametrize("bad", [None, 3, ""])
def test_paths_must_be_strings(bad: Any) -> None:
    with pytest.raises(TypeError, match="must be a path"):
        make_env().add_python_file(bad)
    with pytest.raises(TypeError, match="takes the interpreter's path"):
        make_env().set_python_executable(bad)


def test_keys_set_in_the_configuration_are_checked_when_the_job_is_built(
        tmp_path: Path) -> None:
    env = make_env(Configuration.from_dict({"python.files": str(tmp_path / "gone.py")}))
    with pytest.raises(FileNotFoundError, match=r"'.*gone\.py' \(from python.files\)"):
        job_graph(env)


# ---------------------------------------------------------------- carried by the job
def test_the_job_graph_carries_the_dependencies(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    dep = module_file(tmp_path)
    package = tmp_path / "pkgdir"
    package.mkdir()
    archive = zip_of(tmp_path / "venv.zip", {"v/bin/python": ""})
    wheel = zip_of(tmp_path / "lib.whl", {"lib/__init__.py": ""})
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("")
    env = make_env()
    env.add_python_file(dep.name)  # relative paths resolve against the working directory
    env.add_python_file("pkgdir")
    env.add_python_file(str(wheel))
    env.add_python_archive("venv.zip", "venv")
    env.set_python_requirements("requirements.txt")
    env.set_python_executable("venv/v/bin/python")
    graph = job_graph(env)
    assert graph.python_dependencies == PythonDependencies(
        files=(str(wheel), str(package), str(dep)),
        archives=((str(archive), "venv"),),
        requirements=(str(requirements), None),
        executable="venv/v/bin/python",
    )
    # directories and archives go on sys.path themselves, a single file by its directory
    assert graph.config["python_path"] == [str(wheel), str(package), str(tmp_path)]


def test_a_job_without_dependencies_carries_none() -> None:
    graph = job_graph(make_env())
    assert graph.python_dependencies == PythonDependencies()
    assert graph.config["python_path"] == []


@pytest.mark.parametrize("method", ["add_jars", "add_classpaths"])
def test_jars_and_classpaths_are_accepted_with_a_warning(method: str) -> None:
    env = make_env()
    with pytest.warns(UserWarning, match=rf"{method}\(\) has no effect in strom: strom runs no"):
        getattr(env, method)("file:///a.jar", "file:///b.jar")
    key = "pipeline.jars" if method == "add_jars" else "pipeline.classpaths"
    assert config_of(env, key) == "file:///a.jar;file:///b.jar"


# ---------------------------------------------------------------- sys.path bookkeeping
def test_python_path_entries_are_reference_counted(tmp_path: Path) -> None:
    entry = str(tmp_path / "deps")
    first = acquire_python_path([entry])
    second = acquire_python_path([entry, entry])
    assert sys.path[0] == entry and sys.path.count(entry) == 1
    release_python_path(first)
    assert entry in sys.path
    release_python_path(second)
    assert entry not in sys.path


def test_an_entry_the_program_put_on_sys_path_stays(tmp_path: Path, monkeypatch: Any) -> None:
    entry = str(tmp_path)
    monkeypatch.syspath_prepend(entry)
    release_python_path(acquire_python_path([entry]))
    assert entry in sys.path


# ---------------------------------------------------------------- importable in the job
def _imports_in_job(env: StreamExecutionEnvironment, module: str) -> list[int]:
    def plus(x: int) -> int:
        return __import__(module).plus(x)  # type: ignore[no-any-return]

    sink = CollectSink()
    env.from_collection([1, 2, 3]).map(plus).sink_to(sink)
    env.execute()
    return sorted(sink.results)


def test_a_python_file_is_importable_by_the_job(
        strom_env: StreamExecutionEnvironment, tmp_path: Path) -> None:
    dep = module_file(tmp_path)
    strom_env.add_python_file(str(dep))
    assert _imports_in_job(strom_env, dep.stem) == [101, 102, 103]
    # the job's entries leave with its tasks (which end just after reporting FINISHED)
    wait_until(lambda: str(tmp_path) not in sys.path, 30, "the job's path to leave sys.path")


def test_a_directory_makes_its_modules_importable(
        strom_env: StreamExecutionEnvironment, tmp_path: Path) -> None:
    dep = module_file(tmp_path)
    strom_env.add_python_file(str(tmp_path))
    assert _imports_in_job(strom_env, dep.stem) == [101, 102, 103]


def test_a_zip_of_modules_is_importable(
        strom_env: StreamExecutionEnvironment, tmp_path: Path) -> None:
    name = f"zipped_{uuid.uuid4().hex}"
    archive = zip_of(tmp_path / "deps.zip", {f"{name}.py": "def plus(x):\n    return x + 100\n"})
    strom_env.add_python_file(str(archive))
    assert _imports_in_job(strom_env, name) == [101, 102, 103]


def test_without_add_python_file_the_import_fails(
        strom_env: StreamExecutionEnvironment, tmp_path: Path) -> None:
    dep = module_file(tmp_path)
    assert str(tmp_path) not in sys.path and os.getcwd() != str(tmp_path)
    with pytest.raises(ModuleNotFoundError, match=dep.stem):
        _imports_in_job(strom_env, dep.stem)
