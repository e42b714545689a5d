"""Failure, success and stuck-job alerts (being written)."""

from __future__ import annotations


def alerts_scan() -> int:
    """Find new alert-worthy job events and queue deliveries; returns how many."""
    return 0


def alerts_deliver() -> int:
    """Send due deliveries, retrying with back-off; returns how many were attempted."""
    return 0
