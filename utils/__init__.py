"""Helpers of the scripts, by stage: data/, training/, evaluation/; process-wide
concerns (compatibility shims, devices, errors, safe files, workers) at the top."""
