"""The JobManager's REST API: endpoint specs, their handlers, the aiohttp server and the
OpenAPI document. See :mod:`strom.jobmanager.rest.specs`."""
