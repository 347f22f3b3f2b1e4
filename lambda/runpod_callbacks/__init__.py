"""Shared code of the four functions: submit, webhook, watchdog and canceller (lambda/*.py)."""
