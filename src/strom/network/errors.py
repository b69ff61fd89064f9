"""How a channel between TaskManagers fails, as the task at its other end sees it."""

from __future__ import annotations

__all__ = ["PartitionNotFoundError", "ProducerFailedError", "RemoteTransportError"]


class PartitionNotFoundError(RuntimeError):
    """A consumer asked a TaskManager for a result partition no producer there registered
    in time (Flink's ``PartitionNotFoundException``)."""


class ProducerFailedError(RuntimeError):
    """The producer of a remote input channel failed; the consumer cannot go on."""


class RemoteTransportError(ConnectionError):
    """The TCP connection to another TaskManager could not be opened or was lost."""


ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (PartitionNotFoundError, ProducerFailedError, RemoteTransportError)
}
