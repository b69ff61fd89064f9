"""The ``strom`` command."""
