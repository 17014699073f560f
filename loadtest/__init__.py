"""`flagstream loadtest`: many real SSE streams from several processes, and what they saw."""
