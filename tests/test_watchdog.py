"""The outbound-call watchdog cuts each connection at its own deadline, whatever the order
its calls were armed in, and leaves disarmed ones alone."""

from __future__ import annotations

import socket
import time

from jobs.watchdog import Watchdog


def _cut_after(sock: socket.socket) -> float:
    """Seconds until a blocked read on `sock` is woken by the watchdog's shutdown."""
    sock.settimeout(5)
    started = time.monotonic()
    assert sock.recv(1) == b""  # shut down: end of stream, not a timeout
    return time.monotonic() - started


def test_a_later_call_with_an_earlier_deadline_is_cut_at_its_own_deadline():
    watchdog = Watchdog()
    far, _far_peer = socket.socketpair()
    near, _near_peer = socket.socketpair()
    watchdog.arm(time.monotonic() + 60, far)
    time.sleep(0.2)  # the thread now sleeps until that deadline, a minute away
    alarm = watchdog.arm(time.monotonic() + 0.3, near)
    assert _cut_after(near) < 2
    assert watchdog.cancel(alarm) is True  # it had fired


def test_calls_armed_in_deadline_order_are_each_cut_and_a_disarmed_one_is_not():
    watchdog = Watchdog()
    pairs = [socket.socketpair() for _ in range(3)]
    now = time.monotonic()
    first = watchdog.arm(now + 0.2, pairs[0][0])
    kept = watchdog.arm(now + 0.3, pairs[1][0])
    last = watchdog.arm(now + 0.4, pairs[2][0])
    assert watchdog.cancel(kept) is False
    assert _cut_after(pairs[0][0]) < 2
    assert _cut_after(pairs[2][0]) < 2
    assert watchdog.cancel(first) and watchdog.cancel(last)
    pairs[1][1].sendall(b"x")  # the disarmed call's connection still works
    pairs[1][0].settimeout(2)
    assert pairs[1][0].recv(1) == b"x"
