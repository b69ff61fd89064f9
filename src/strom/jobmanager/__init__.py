"""The JobManager: Dispatcher, ResourceManager and one JobMaster per job."""
