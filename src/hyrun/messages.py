"""Errors told in a line (a failed step, a failed sweep job): the first line of their message."""
from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first non-empty line of ``error``'s message (torch's run over several), else its type."""
    for line in str(error).strip().splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__
