import pickle

import pytest

from strom.common import (
    ByteArraySchema,
    Configuration,
    Encoder,
    ExecutionConfig,
    Row,
    SimpleStringSchema,
    Types,
)


def test_execution_config_defaults() -> None:
    config = ExecutionConfig(Configuration())
    assert config.get_parallelism() == 1
    assert config.get_max_parallelism() == -1
    assert config.get_auto_watermark_interval() == 200
    assert config.get_global_job_parameters() == {}
    assert not config.is_object_reuse_enabled()
    assert config.get_latency_tracking_interval() == 0
    assert not config.is_latency_tracking_configured()


def test_execution_config_writes_flink_keys() -> None:
    backing = Configuration()
    config = ExecutionConfig(backing)
    returned = (
        config.set_parallelism(4)
        .set_max_parallelism(128)
        .set_auto_watermark_interval(1000)
        .set_global_job_parameters({"region": "eu", "a,b": "c"})
        .enable_object_reuse()
        .set_latency_tracking_interval(500)
    )
    assert returned is config
    assert backing.to_dict() == {
        "parallelism.default": "4",
        "pipeline.max-parallelism": "128",
        "pipeline.auto-watermark-interval": "1 s",
        "pipeline.global-job-parameters": "region:eu,'a,b':c",
        "pipeline.object-reuse": "true",
        "metrics.latency.interval": "500 ms",
    }
    assert config.get_parallelism() == 4
    assert config.get_max_parallelism() == 128
    assert config.get_auto_watermark_interval() == 1000
    assert config.get_global_job_parameters() == {"region": "eu", "a,b": "c"}
    assert config.is_object_reuse_enabled()
    assert config.get_latency_tracking_interval() == 500
    config.disable_object_reuse()
    assert not config.is_object_reuse_enabled()
    # values set on the Configuration are seen through the ExecutionConfig
    backing.set_string("pipeline.auto-watermark-interval", "2 min")
    assert config.get_auto_watermark_interval() == 120_000


def test_global_job_parameters_replace_prefixed_entries() -> None:
    backing = Configuration.from_dict({"pipeline.global-job-parameters.old": "1"})
    config = ExecutionConfig(backing)
    assert config.get_global_job_parameters() == {"old": "1"}
    config.set_global_job_parameters({"new": "2"})
    assert config.get_global_job_parameters() == {"new": "2"}


def test_execution_config_validation() -> None:
    config = ExecutionConfig(Configuration())
    with pytest.raises(ValueError, match="Parallelism must be at least 1, or -1"):
        config.set_parallelism(0)
    config.set_parallelism(-1)
    with pytest.raises(ValueError, match="between 1 and 32768, got 40000"):
        config.set_max_parallelism(40_000)
    with pytest.raises(ValueError, match="non-negative number of milliseconds, got -5"):
        config.set_auto_watermark_interval(-5)


def test_simple_string_encoder() -> None:
    encoder = Encoder.simple_string_encoder()
    assert encoder.encode("hello") == b"hello\n"
    assert encoder.encode(("a", 1)) == b"('a', 1)\n"
    assert encoder.encode(("a", 1), Types.TUPLE([Types.STRING(), Types.INT()])) == b"(a,1)\n"
    row_type = Types.ROW([Types.STRING(), Types.INT()])
    assert encoder.encode(Row("a", 1), row_type) == b"+I[a, 1]\n"
    assert encoder.encode(True, Types.BOOLEAN()) == b"true\n"
    latin = Encoder.simple_string_encoder("ISO-8859-1")
    assert latin.encode("é") == b"\xe9\n"
    assert pickle.loads(pickle.dumps(latin)) == latin
    with pytest.raises(ValueError, match="Unknown charset 'klingon'"):
        Encoder.simple_string_encoder("klingon")


def test_schemas() -> None:
    schema = SimpleStringSchema()
    assert schema.serialize("héllo") == "héllo".encode()
    assert schema.deserialize("héllo".encode()) == "héllo"
    assert not schema.is_end_of_stream("x")
    assert SimpleStringSchema("UTF-16").deserialize("x".encode("utf-16")) == "x"
    with pytest.raises(TypeError, match="serializes strings, got int"):
        schema.serialize(5)
    raw = ByteArraySchema()
    assert raw.serialize(bytearray(b"ab")) == b"ab"
    assert raw.deserialize(b"ab") == b"ab"
    with pytest.raises(TypeError, match="serializes bytes, got str"):
        raw.serialize("ab")
