"""argparse ``type=`` converters shared by every polydiff command (training scripts, task
commands): a bad value ends with "argument --flag: expected ..., got ..."."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["flag_type", "non_negative_int", "positive_float", "positive_int"]


def flag_type(convert: Callable[[str], Any], ok: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse ``type=``: ``convert`` the text, accept it when ``ok``, else name ``expected``."""

    def parse(text: str):
        try:
            v = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {v}")
        return v

    return parse


positive_int = flag_type(int, lambda v: v >= 1, "a positive integer")
non_negative_int = flag_type(int, lambda v: v >= 0, "an integer >= 0")
positive_float = flag_type(float, lambda v: 0 < v < float("inf"), "a finite number > 0")
