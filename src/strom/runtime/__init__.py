"""Running tasks: operator chains, the task loop, operators."""
