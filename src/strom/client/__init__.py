"""Client side: following submitted jobs."""
