"""High availability with ZooKeeper (``high-availability.type: zookeeper``), through kazoo.

* :mod:`~strom.ha.zookeeper.client` — the process's client from the
  ``high-availability.zookeeper.*`` keys, and the layout of the cluster's nodes;
* :mod:`~strom.ha.zookeeper.leader_election_driver` — the latch that elects one leading
  JobManager and the nodes where it publishes its components' addresses;
* :mod:`~strom.ha.zookeeper.leader_retrieval_driver` — watching a component's leader;
* :mod:`~strom.ha.zookeeper.stores` — job graphs, checkpoint id counters and completed
  checkpoints (pointers in ZooKeeper, payloads under ``high-availability.storageDir``) and
  the file-based job result store;
* :mod:`~strom.ha.zookeeper.services` — :class:`ZooKeeperHaServices`, all of it behind
  ``HighAvailabilityServices``.
"""

from strom.ha.zookeeper.services import ZooKeeperHaServices

__all__ = ["ZooKeeperHaServices"]
