"""The refresh engine: keep every active job fresh within each account's rate limit.

`loop` is the scheduled refresh loop, `refresh_now` the operator's "Refresh now", both
polling through `poll`; `budget`, `leases`, `listing` and `discovery` are their parts.
"""

from jobs.refresh.loop import LOOP_SECONDS, RefreshLoop, refresh_loop, refresh_once
from jobs.refresh.refresh_now import job_refresh_now

__all__ = ["LOOP_SECONDS", "RefreshLoop", "job_refresh_now", "refresh_loop", "refresh_once"]
