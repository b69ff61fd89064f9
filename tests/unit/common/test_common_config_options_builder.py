"""ConfigOptions: PyFlink's builder for a program's own options, read through Configuration."""

from __future__ import annotations

import pytest

from strom.common import ConfigError, ConfigOptions, Configuration


def test_typed_options_with_defaults_read_from_a_configuration() -> None:
    flag = ConfigOptions.key("my.flag").boolean_type().default_value(False)
    count = ConfigOptions.key("my.count").int_type().default_value(3)
    big = ConfigOptions.key("my.big").long_type().default_value(1 << 40)
    ratio = ConfigOptions.key("my.ratio").double_type().default_value(0.5)
    name = ConfigOptions.key("my.name").string_type().no_default_value()
    empty = Configuration()
    assert (empty.get(flag), empty.get(count), empty.get(big), empty.get(ratio),
            empty.get(name)) == (False, 3, 1 << 40, 0.5, None)
    given = Configuration.from_dict({"my.flag": "true", "my.count": "7",
                                     "my.big": str(1 << 50), "my.ratio": "2",
                                     "my.name": "x"})
    assert (given.get(flag), given.get(count), given.get(big), given.get(ratio),
            given.get(name)) == (True, 7, 1 << 50, 2.0, "x")
    assert ConfigOptions.key("f").float_type().default_value(1).default == 1.0
    assert not name.has_default_value() and count.has_default_value()


def test_a_malformed_value_names_the_key() -> None:
    count = ConfigOptions.key("my.count").int_type().default_value(3)
    with pytest.raises(ConfigError, match=r"Invalid value for 'my\.count': got 'many'"):
        Configuration.from_dict({"my.count": "many"}).get(count)
    big = ConfigOptions.key("my.big").long_type().no_default_value()
    with pytest.raises(ConfigError, match=r"'my\.big'"):
        Configuration.from_dict({"my.big": str(1 << 64)}).get(big)


def test_a_default_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match=r"default of 'my\.count' must be an int, got '3'"):
        ConfigOptions.key("my.count").int_type().default_value("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a bool"):
        ConfigOptions.key("b").boolean_type().default_value(1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "  ", None])
def test_a_key_is_a_non_empty_string(bad: object) -> None:
    with pytest.raises(ValueError, match="non-empty key"):
        ConfigOptions.key(bad)  # type: ignore[arg-type]
