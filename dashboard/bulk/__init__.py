"""Bulk actions on the job list: ask (with a confirmation when destructive), then watch."""
