"""Failure, success and stuck-job alerts: find what is worth telling, then tell it.

`scan` records notices (once per rule, job and event, ever) and queues them as
deliveries; `messages` says what a delivery tells; `delivery` sends due deliveries
through the rule's channel (`channels`: email, signed JSON webhook, WeCom / DingTalk /
Feishu robots), retrying with back-off, and records every attempt's outcome.
"""

from jobs.alerts.channels import CHANNELS
from jobs.alerts.delivery import MAX_ATTEMPTS, alert_send_test, alerts_deliver
from jobs.alerts.events import EVENTS
from jobs.alerts.scan import DIGEST_THRESHOLD, alerts_scan

__all__ = [
    "CHANNELS",
    "DIGEST_THRESHOLD",
    "EVENTS",
    "MAX_ATTEMPTS",
    "alert_send_test",
    "alerts_deliver",
    "alerts_scan",
]
