"""A TaskExecutor's network environment (Flink's shuffle environment): the channels of its
tasks, local or remote.

* A producer task owns its result partition: per consumer subtask one
  :class:`~strom.network.local_channel.LocalChannel` (a subpartition), which it writes into
  against the consumer's credit, wherever the consumer runs (:meth:`result_subpartition`).
* A consumer task gets, per producer subtask, an input channel
  (:meth:`input_channel`): the producer's ``LocalChannel`` itself when the producer runs in
  this TaskExecutor (batches handed over by reference), else a
  :class:`~strom.network.remote_input_channel.RemoteInputChannel` that requests the
  subpartition from the producer's TaskManager over TCP. Both read the same way.
* With ``tcp=True`` it serves its subpartitions to remote consumers on the data port
  (``taskmanager.data.port`` on ``taskmanager.bind-host``) and connects to other
  TaskManagers, one connection per pair (:class:`~strom.network.connection_manager.
  ConnectionManager`). Without it every channel is local: the TaskExecutors of an embedded
  cluster then share one :class:`~strom.network.local_network.LocalNetwork`.

Memory: a channel holds at most its credit in buffers at the receiver plus as many on the
wire; one buffer is one record batch of up to ``batch_size`` (1,024) records. So one input
gate holds at most ``channels * buffers-per-channel + floating-buffers-per-gate`` batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from strom.common import config_options as opts
from strom.common.configuration import Configuration
from strom.common.security import InternalTls, internal_tls
from strom.graph.ids import ResourceID
from strom.network import wire
from strom.network.connection_manager import ConnectionManager, SubpartitionView
from strom.network.local_channel import LocalChannel
from strom.network.local_network import ChannelKey, LocalNetwork
from strom.network.remote_input_channel import RemoteInputChannel
from strom.rpc.messages import ProducerLocation

__all__ = ["DEFAULT_PARTITION_REQUEST_TIMEOUT_S", "InputChannel", "NetworkEnvironment"]

#: how long a partition request waits for its producer to register (Flink's
#: ``taskmanager.network.request-backoff.max``, 10 s)
DEFAULT_PARTITION_REQUEST_TIMEOUT_S = 10.0


class InputChannel(Protocol):
    """What an input gate reads: a local or a remote channel."""

    receiver_waker: Any
    priority_waker: Any

    def poll(self) -> Any: ...

    def poll_priority(self) -> Any: ...

    def inflight_before(self, checkpoint_id: int) -> list[Any] | None: ...

    def is_empty(self) -> bool: ...

    def queued(self) -> int:
        """Elements waiting to be polled (a task's ``buffers.inputQueueLength``)."""
        ...


class NetworkEnvironment:
    def __init__(self, resource_id: ResourceID | None = None,
                 channels: LocalNetwork | None = None, *,
                 tcp: bool = False, bind_host: str = "127.0.0.1", data_port: int = 0,
                 partition_request_timeout_s: float = DEFAULT_PARTITION_REQUEST_TIMEOUT_S,
                 advertised_host: str | None = None, tls: InternalTls | None = None) -> None:
        #: the TaskExecutor this environment belongs to
        self.resource_id = resource_id if resource_id is not None else ResourceID()
        self.channels = channels if channels is not None else LocalNetwork()
        self.tcp = tcp
        self.bind_host = bind_host
        self.data_port = data_port
        #: the host other TaskManagers reach the data port at (``taskmanager.host``); unset:
        #: the bound one, which a wildcard bind (0.0.0.0) cannot be
        self.advertised_host = advertised_host
        self.partition_request_timeout_s = partition_request_timeout_s
        #: internal TLS on the data connections (``security.ssl.internal.*``); None: plain
        self.tls = tls
        #: ``host:port`` of the data server; empty without TCP
        self.data_address = ""
        self._manager: ConnectionManager | None = None
        #: guards the three below: task threads, the RPC loop and the network thread use them
        self._lock = threading.Lock()
        self._produced: set[ChannelKey] = set()
        self._failed: dict[ChannelKey, str] = {}
        #: the remote input channels of each job, to close when it is released
        self._remote: dict[str, list[RemoteInputChannel]] = {}
        #: jobs released here (until a slot is allocated to them again): a partition request
        #: for one fails at once instead of opening a channel that nothing would release
        self._released: set[str] = set()

    @classmethod
    def from_configuration(cls, config: Configuration,
                           resource_id: ResourceID | None = None) -> NetworkEnvironment:
        """The TCP network environment of a TaskManager process: its data server listens on
        ``taskmanager.bind-host``:``taskmanager.data.port``, reached at ``taskmanager.host``,
        with internal TLS when ``security.ssl.internal.enabled``."""
        return cls(resource_id, tcp=True,
                   bind_host=config.get(opts.TASKMANAGER_BIND_HOST) or "127.0.0.1",
                   data_port=config.get(opts.TASKMANAGER_DATA_PORT) or 0,
                   advertised_host=config.get(opts.TASKMANAGER_HOST),
                   tls=internal_tls(config))

    def start(self) -> None:
        """Bind the data port and start the network thread (TCP only)."""
        if self.tcp and self._manager is None:
            self._manager = ConnectionManager(str(self.resource_id), self.bind_host,
                                              self.data_port, self._on_partition_request,
                                              self.channels.remove, self.advertised_host,
                                              self.tls)
            self.data_address = self._manager.start()

    def close(self) -> None:
        manager, self._manager = self._manager, None
        if manager is not None:
            manager.close()  # pending partition-request timers end with its loop

    def drop_connections(self) -> None:
        """Fault injection: cut every TCP connection to other TaskManagers; the channels on
        them fail at both ends with a :class:`RemoteTransportError` naming the peer."""
        if self._manager is not None:
            self._manager.drop_connections()

    # ------------------------------------------------------------ task threads
    def result_subpartition(self, key: ChannelKey) -> LocalChannel:
        """The producer's channel to one consumer subtask (``key``'s last two entries are
        the producer and consumer subtask)."""
        return self.result_subpartitions([key])[0]

    def result_subpartitions(self, keys: Sequence[ChannelKey]) -> list[LocalChannel]:
        """The producer's channels for ``keys``, found in one go (see
        :meth:`LocalNetwork.channels`)."""
        with self._lock:
            self._produced.update(keys)
        return self.channels.channels(keys)

    def input_channel(self, key: ChannelKey, producer: ProducerLocation | None,
                      credit: int) -> LocalChannel | RemoteInputChannel:
        """The consumer's channel from one producer subtask, with ``credit`` buffers
        announced: local when the producer runs here (or nothing runs over TCP)."""
        channel = self.input_channels([key], [producer], credit)[0]
        self.announce_credit([channel], credit)
        return channel

    def input_channels(self, keys: Sequence[ChannelKey],
                       producers: Sequence[ProducerLocation | None],
                       credit: int) -> list[LocalChannel | RemoteInputChannel]:
        """The consumer's channels for ``keys``, one per producer subtask (at ``producers``).

        A remote channel requests its subpartition at once, announcing ``credit`` with the
        request. A local channel gets its credit only with :meth:`announce_credit`, so that
        a consumer can start listening first."""
        manager = self._manager
        found: list[LocalChannel | RemoteInputChannel] = []
        local = [key for key, producer in zip(keys, producers)
                 if not self._is_remote(manager, producer)]
        local_channels = iter(self.channels.channels(local))
        for key, producer in zip(keys, producers):
            if not self._is_remote(manager, producer):
                found.append(next(local_channels))
                continue
            assert manager is not None and producer is not None
            job_id, attempt, edge_id, producer_subtask, consumer_subtask = key
            description = (f"the channel of edge {edge_id} from subtask {producer_subtask} "
                           f"(on TaskManager {producer.resource_id}) to subtask "
                           f"{consumer_subtask}")
            remote = RemoteInputChannel(description, str(job_id), credit)
            request = wire.PartitionRequest(str(job_id), attempt, edge_id, producer_subtask,
                                            consumer_subtask, credit)
            with self._lock:
                self._remote.setdefault(str(job_id), []).append(remote)
            manager.request_partition(producer.data_address, remote, request)
            found.append(remote)
        return found

    @staticmethod
    def announce_credit(channels: Sequence[InputChannel], credit: int) -> None:
        """The consumer listens to ``channels``: the local ones get ``credit`` buffers (the
        remote ones announced theirs with their partition request)."""
        for channel in channels:
            if isinstance(channel, LocalChannel):
                channel.announce_credit(credit)

    def _is_remote(self, manager: ConnectionManager | None,
                   producer: ProducerLocation | None) -> bool:
        return (manager is not None and producer is not None and bool(producer.data_address)
                and producer.resource_id != self.resource_id)

    def fail_partitions(self, keys: list[ChannelKey], producer: str,
                        error: BaseException) -> None:
        """The producer task of ``keys`` failed: its remote consumers get an error response
        naming it (and so does a consumer whose request arrives later)."""
        manager = self._manager
        if manager is None or not keys:
            return
        message = (f"The producer {producer} of this channel failed with "
                   f"{type(error).__name__}: {error}")
        manager.call_soon(self._fail_views, list(keys), message)

    def release_job(self, job_id: Any) -> Future[None]:
        """Drop every channel of the job, local and remote; done when the returned future is.

        Over TCP the release runs on the network thread, which also opens channels for
        partition requests: a request handled before it is released with the job, one
        handled after it is refused (:meth:`_on_partition_request`). So a released job leaves
        no channel behind, whichever arrives first."""
        job = str(job_id)
        with self._lock:
            remote = self._remote.pop(job, [])
        for channel in remote:
            channel.released = True
        done: Future[None] = Future()
        manager = self._manager
        try:
            if manager is not None:
                manager.call_soon(self._release, job, remote, done, manager)
                return done
        except RuntimeError:  # the network thread has stopped: no request can race this
            manager = None
        self._release(job, remote, done, manager)
        return done

    def reopen_job(self, job_id: Any) -> None:
        """A slot is allocated to the job again: serve partition requests for it again."""
        with self._lock:
            self._released.discard(str(job_id))

    def stats(self) -> dict[str, Any]:
        found = dict(self.channels.stats())
        if self._manager is not None:
            found.update(self._manager.stats())
        return found

    # ------------------------------------------------------------ network thread
    def _on_partition_request(self, connection: Any, channel_id: int,
                              request: wire.PartitionRequest) -> None:
        key: ChannelKey = (request.job_id, request.job_attempt, request.edge_id,
                           request.producer, request.consumer)
        if request.credit < 1:
            view = SubpartitionView(connection, channel_id, LocalChannel(), key)
            connection.views[channel_id] = view
            view.fail("ValueError", f"A partition request must announce at least 1 credit, "
                      f"got {request.credit}.")
            return
        with self._lock:
            released = request.job_id in self._released
        if released:  # the job ended here: a channel opened now would never be released
            view = SubpartitionView(connection, channel_id, LocalChannel(), key)
            connection.views[channel_id] = view
            view.fail("PartitionNotFoundError", (
                f"The partition of edge {request.edge_id}, subtask {request.producer} → "
                f"{request.consumer}, belongs to job {request.job_id}, which was already "
                f"released on TaskManager {self.resource_id} (it finished, failed or was "
                "cancelled). The consumer's job is over too; it is released next."
            ))
            return
        channel = self.channels.channel(key)
        view = SubpartitionView(connection, channel_id, channel, key)
        connection.views[channel_id] = view
        with self._lock:
            failed = self._failed.get(key)
        if failed is not None:
            view.fail("ProducerFailedError", failed)
            return
        channel.receiver_waker = view.notify
        channel.announce_credit(request.credit)
        view.notify()  # events the producer sent before the request
        with self._lock:
            produced = key in self._produced
        if not produced:
            assert self._manager is not None
            self._manager.loop.call_later(self.partition_request_timeout_s,
                                          self._check_produced, view)

    def _check_produced(self, view: SubpartitionView) -> None:
        with self._lock:
            produced = view.key in self._produced
        if produced or view.connection.views.get(view.channel_id) is not view:
            return
        self.channels.remove(view.key)
        _, _, edge_id, producer, consumer = view.key
        view.fail("PartitionNotFoundError", (
            f"No producer registered the partition of edge {edge_id}, subtask {producer} → "
            f"{consumer}, on TaskManager {self.resource_id} within "
            f"{self.partition_request_timeout_s} s of the request. The producer task was not "
            "deployed there, or it already ended and was released."
        ))

    def _fail_views(self, keys: list[ChannelKey], message: str) -> None:
        wanted = set(keys)
        with self._lock:
            for key in wanted:
                if key[0] not in self._released:  # a late failure of a released job
                    self._failed[key] = message
        assert self._manager is not None
        for connection in self._manager.connections():
            for view in list(connection.views.values()):
                if view.key in wanted:
                    view.fail("ProducerFailedError", message)

    def _release(self, job: str, remote: list[RemoteInputChannel], done: Future[None],
                 manager: ConnectionManager | None = None) -> None:
        """Release the job's channels (on the network thread, if ``manager`` runs one)."""
        try:
            with self._lock:
                self._released.add(job)
                self._produced = {k for k in self._produced if k[0] != job}
                self._failed = {k: v for k, v in self._failed.items() if k[0] != job}
            self.channels.release_job(job)
            if manager is not None:
                for channel in remote:
                    manager.close_channel_now(channel)
                for connection in manager.connections():
                    for channel_id, view in list(connection.views.items()):
                        if view.key[0] == job:
                            del connection.views[channel_id]
        except BaseException as e:
            done.set_exception(e)
            raise
        done.set_result(None)
