"""Endpoints, gateways and transports. Control messages are msgspec Structs."""
