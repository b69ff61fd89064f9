"""The RPC service: which transport it uses and how long a call may take, from the
environment (``STROM_RPC``) and the configuration (``pekko.ask.timeout``)."""

from __future__ import annotations

import pytest
from test_rpc_transport_conformance import EchoGateway

from strom.rpc.errors import RpcError
from strom.rpc.service import RpcService, rpc_mode_from_env


def test_a_service_calls_only_addresses_of_its_transport() -> None:
    local = RpcService("rpc-local")
    try:
        with pytest.raises(RpcError, match=r"cannot reach tcp://127.0.0.1:1/x: .*mode='tcp'"):
            local.connect("tcp://127.0.0.1:1/x", EchoGateway)
        with pytest.raises(RpcError, match="'nonsense' is not an RPC address"):
            local.connect("nonsense", EchoGateway)
    finally:
        local.stop()


def test_the_rpc_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROM_RPC", "codec")
    assert rpc_mode_from_env() == "codec"
    from strom.minicluster import MiniCluster

    assert MiniCluster().rpc_mode == "codec"
    assert MiniCluster(rpc="tcp").rpc_mode == "tcp"
    monkeypatch.setenv("STROM_RPC", "pigeon")
    with pytest.raises(ValueError, match="STROM_RPC='pigeon' is not an RPC mode; use one of "
                                         "local, codec, tcp"):
        rpc_mode_from_env()


def test_the_ask_timeout_comes_from_the_configuration() -> None:
    from strom.common import Configuration
    from strom.datastream import StreamExecutionEnvironment
    from strom.testing import CollectSink

    config = Configuration().set_string("pekko.ask.timeout", "3 s")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.from_collection([1]).sink_to(CollectSink())
    cluster = env._local_cluster(env._job_graph(None))
    try:
        assert cluster.rpc is not None and cluster.rpc.ask_timeout_s == 3.0
    finally:
        cluster.stop()


def test_a_port_in_use_is_an_rpc_error_naming_it() -> None:
    first = RpcService("rpc-first", mode="tcp")
    try:
        port = int(first.address_of("x").split(":")[2].split("/")[0])
        with pytest.raises(RpcError, match=f"cannot listen for RPC on 127.0.0.1:{port}: .*"
                                           "Pick another port"):
            RpcService("rpc-second", mode="tcp", port=port)
    finally:
        first.stop()
