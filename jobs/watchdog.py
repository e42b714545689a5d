"""The deadline of outbound calls: one thread that cuts a connection at its call's deadline.

Used by `jobs.http` only; a socket timeout bounds each recv(), not a whole call.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time


class Alarm:
    """One call's deadline: a duplicate of its socket, shut down if the call overruns."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.fired = False
        self.done = False


class Watchdog:
    """One thread that cuts the connection of every call still running at its deadline.

    A socket timeout bounds each recv(), not the call: a peer sending a byte a second
    never trips it. Shutting the socket down wakes any blocked read or TLS handshake at
    once, for plain and TLS connections alike.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.alarms: list[tuple[float, int, Alarm]] = []
        self.order = itertools.count()
        self.thread: threading.Thread | None = None

    def arm(self, at: float, sock: socket.socket) -> Alarm:
        alarm = Alarm(os.dup(sock.fileno()))
        with self.cond:
            heapq.heappush(self.alarms, (at, next(self.order), alarm))
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="outbound-deadlines", daemon=True
                )
                self.thread.start()
            # The thread sleeps until the earliest deadline: only a new earliest one needs
            # to wake it. Deadlines mostly come in order, and waking the thread for every
            # call cost a context switch per request (an eighth of a refresh loop's CPU).
            if self.alarms[0][2] is alarm:
                self.cond.notify()
        return alarm

    def cancel(self, alarm: Alarm) -> bool:
        """Disarm; returns whether the alarm had already cut the connection."""
        with self.cond:
            if not alarm.done:
                alarm.done = True
                os.close(alarm.fd)
            return alarm.fired

    def _run(self) -> None:
        with self.cond:
            while True:
                while self.alarms and self.alarms[0][2].done:
                    heapq.heappop(self.alarms)
                if not self.alarms:
                    self.cond.wait()
                    continue
                wait = self.alarms[0][0] - time.monotonic()
                if wait > 0:
                    self.cond.wait(wait)
                    continue
                alarm = heapq.heappop(self.alarms)[2]
                alarm.fired = alarm.done = True
                cut = socket.socket(fileno=alarm.fd)
                with contextlib.suppress(OSError):
                    cut.shutdown(socket.SHUT_RDWR)
                cut.close()

    def after_fork(self) -> None:
        # django-q2 forks its workers: the child has neither the thread nor a sane lock.
        self.cond = threading.Condition()
        self.alarms = []
        self.thread = None
