"""Domain of the RunPod webhook: parse a job status, claim its callback record, resume the task."""
