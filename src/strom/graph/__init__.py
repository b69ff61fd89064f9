"""Dataflow graphs: Transformations (what the API records) → StreamGraph (one node per
operator) → JobGraph (operator chains, what is submitted) → ExecutionGraph (one vertex per
parallel subtask, built by the JobMaster). Nothing here imports the runtime."""
