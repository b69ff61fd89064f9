"""The JobManager's view of the cluster's metrics: the store the REST handlers read and the
fetcher that fills it from the TaskManagers."""
