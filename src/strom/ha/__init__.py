"""High availability: leader election and retrieval, and the stores a new leader recovers
from (Flink's ``HighAvailabilityServices``).

* :mod:`strom.ha.leader_election` — the I/O-free service that grants and revokes leadership
  to the contenders of one JobManager process and publishes their addresses once they
  confirm it; a driver (standalone or ZooKeeper) decides who leads.
* :mod:`strom.ha.leader_retrieval` — how TaskManagers and clients learn the leader's
  address of a component, and hear when it changes.
* :mod:`strom.ha.stores` — job graphs, checkpoint id counters, completed checkpoints and
  job results; :mod:`strom.ha.memory` has the in-memory versions a standalone cluster uses.
* :mod:`strom.ha.services` — ``create_ha_services(configuration)`` for
  ``high-availability.type`` NONE (standalone) or ZOOKEEPER (:mod:`strom.ha.zookeeper`).
* :mod:`strom.ha.testing` — a driver, contender, listener and executor tests control.
"""
