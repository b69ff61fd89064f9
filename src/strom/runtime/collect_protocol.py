"""How ``execute_and_collect`` results travel back from a remote cluster (Flink's collect
sink and its operator coordinator).

The collect sink task sends its batches as operator events to a
:class:`~strom.jobmanager.collect_coordinator.CollectCoordinator` on the JobMaster, against
credit: it starts with ``CREDIT`` batches and gets one back for each batch the client has
fetched, so at most ``CREDIT`` batches wait on the JobMaster. The client polls the
coordinator (``POST /jobs/:jobid/coordinators/:operatorid``) with the number of batches it
has received so far; the coordinator drops those and answers with the rest. At end of
input the sink waits until the client has fetched everything (or the job is cancelled), so
a finished job has delivered all its results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

__all__ = ["CREDIT", "CollectBatch", "CollectCredit", "CollectDrained", "CollectEnd",
           "CollectRelease", "CollectRequest", "CollectResponse"]

#: batches the sink may send before the client has fetched any (bounds the JobMaster's memory)
CREDIT = 8


@dataclass(frozen=True)
class CollectBatch:
    """sink → coordinator: one batch of results."""

    values: list[Any]


@dataclass(frozen=True)
class CollectEnd:
    """sink → coordinator: the input has ended."""


@dataclass(frozen=True)
class CollectCredit:
    """coordinator → sink: the client fetched ``batches`` more; send as many."""

    batches: int


@dataclass(frozen=True)
class CollectDrained:
    """coordinator → sink: the client has every batch; the sink may finish."""


@dataclass(frozen=True)
class CollectRelease:
    """coordinator → sink: nobody will fetch any more (the job ends); drop and finish."""


class CollectRequest(msgspec.Struct, frozen=True):
    """client → coordinator: ``offset`` = batches received so far (they can be dropped)."""

    offset: int


class CollectResponse(msgspec.Struct, frozen=True):
    """coordinator → client: the batches from ``offset`` on, pickled as one list, and whether
    they are the last."""

    offset: int
    batches: bytes
    ended: bool
