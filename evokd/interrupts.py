"""SIGTERM and Ctrl-C that unwind: exits that run the finally blocks, so atomic writers leave no partial output.

Python's default SIGTERM kills without unwinding; the handler here raises SystemExit(143) instead (Ctrl-C keeps
its KeyboardInterrupt, exit 130). A signal that lands inside library code which swallows the exception (seen
under load while the HF Trainer starts up) is remembered, and `exit_if_signalled` raises it again at the next
safe point (the student's training steps call it).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

_received: list[int] = []


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    sys.exit(128 + signum)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if not _received:
        print(f"Terminated by {signal.Signals(signum).name}; outputs left as they were.", file=sys.stderr)
    _received.append(signum)
    _raise_for(signum)


def install() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def exit_if_signalled() -> None:
    if _received:
        _raise_for(_received[0])
