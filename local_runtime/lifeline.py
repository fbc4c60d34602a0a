"""Processes that end with the runtime that started them, however it ends (Ctrl-C, a crash, kill -9).

- `exit_with_parent()`, called in a Python child (a function instance), ends that process as soon
  as its parent is gone.
- `python -m local_runtime.lifeline -- COMMAND ...` runs a program that cannot watch its parent
  itself (DynamoDB Local's JVM): it starts COMMAND as its child with a parent-death signal
  (SIGKILL), and when its own parent, the runtime, is gone it stops COMMAND (SIGTERM, then SIGKILL
  after `GRACE_SECONDS`) and ends. So COMMAND outlives neither the runtime nor this watchdog.
  Signals sent to this watchdog (SIGTERM, SIGINT) are passed on to COMMAND; its exit status is
  COMMAND's.

A parent is watched through a pidfd (Linux 5.3+): the watch wakes when the parent ends, not on a
timer.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading

GRACE_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1


def _parent_watch() -> int | None:
    """A pidfd of this process's parent, or None if the parent is already gone."""
    parent = os.getppid()
    try:
        watch = os.pidfd_open(parent)
    except ProcessLookupError:
        return None
    if os.getppid() != parent:  # it ended between the two calls, and this process was adopted
        os.close(watch)
        return None
    return watch


def wait_for_parent_exit() -> None:
    """Block until this process's parent has ended."""
    watch = _parent_watch()
    if watch is None:
        return
    try:
        select.select([watch], [], [])
    finally:
        os.close(watch)


def exit_with_parent(status: int = 1) -> None:
    """End this process (at once, whatever it is doing) when its parent ends."""

    def watch() -> None:
        wait_for_parent_exit()
        os._exit(status)

    threading.Thread(target=watch, daemon=True, name="lifeline").start()


def _die_with_this_process() -> None:
    """In the child, before exec: the kernel sends it SIGKILL when this (single-threaded) watchdog ends."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m local_runtime.lifeline -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    watch = _parent_watch()
    # pass_fds keeps what the runtime gave this watchdog (a lock on the data, see dynamodb_local).
    inherited = tuple(int(fd) for fd in os.environ.pop("LIFELINE_PASS_FDS", "").split(",") if fd)
    child = subprocess.Popen(args, preexec_fn=_die_with_this_process, pass_fds=inherited)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda signum, _frame: child.send_signal(signum))
    if watch is None:
        _stop(child)
        return 1
    child_watch = os.pidfd_open(child.pid)
    while True:
        try:
            ready, _, _ = select.select([watch, child_watch], [], [])
        except InterruptedError:  # a signal, passed on above
            continue
        if child_watch in ready:
            return child.wait()
        if watch in ready:  # the runtime is gone
            _stop(child)
            return 1


if __name__ == "__main__":
    sys.exit(main())
