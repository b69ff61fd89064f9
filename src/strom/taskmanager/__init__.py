"""The TaskExecutor: slots, deployed tasks, status reports."""
