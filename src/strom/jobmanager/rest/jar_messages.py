"""The web submit endpoints' bodies (Flink's ``/jars`` API, for Python job files), in
Flink's JSON shapes and field names."""

from __future__ import annotations

import msgspec

__all__ = ["JarEntryInfo", "JarFileInfo", "JarListInfo", "JarRunRequest", "JarRunResponse",
           "JarUploadResponse"]


class JarUploadResponse(msgspec.Struct):
    """Flink's JarUploadResponseBody: the stored file's path; its file name is the jar id."""

    filename: str
    status: str = "success"


class JarEntryInfo(msgspec.Struct):
    #: Flink: the entry class; strom: the program file's name
    name: str
    description: str | None = None


class JarFileInfo(msgspec.Struct):
    #: the jar id (``<uuid>_<file name>``), for ``/jars/:jarid/run``
    id: str
    #: the file name the user uploaded
    name: str
    #: when it was uploaded, ms since the epoch
    uploaded: int
    entry: list[JarEntryInfo] = []


class JarListInfo(msgspec.Struct):
    #: the REST address the uploaded programs submit their jobs to
    address: str
    files: list[JarFileInfo]


class JarRunRequest(msgspec.Struct):
    """Flink's JarRunRequestBody. strom runs a Python file, so ``entryClass`` is not taken;
    ``programArg`` (one string, split at spaces) is Flink's older form of
    ``programArgsList``."""

    program_args_list: list[str] | None = msgspec.field(name="programArgsList", default=None)
    program_args: str | None = msgspec.field(name="programArg", default=None)
    parallelism: int | None = None
    savepoint_path: str | None = msgspec.field(name="savepointPath", default=None)
    allow_non_restored_state: bool | None = msgspec.field(name="allowNonRestoredState",
                                                          default=None)
    entry_class: str | None = msgspec.field(name="entryClass", default=None)


class JarRunResponse(msgspec.Struct):
    jobid: str
