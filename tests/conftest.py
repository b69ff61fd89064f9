"""Project-wide pytest configuration: strom's own test kit (``strom_env`` and friends)."""

pytest_plugins = ["strom.testing.pytest_plugin"]
