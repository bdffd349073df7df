"""The bad-input catalogue: each case is (api, what is wrong, call, expected error, message).

`tests/reliability/test_catalogue.py` runs every case; `python tests/reliability/catalogue.py`
writes docs/reliability.md from the same list (a test fails when the document is stale).
Each domain's cases live in `cases_<domain>.py`; `cases_common.py` holds the record.
"""
from __future__ import annotations

from cases_common import MISSING, Case
from cases_core import _core_cases
from cases_molecules import _molecules_cases
from cases_robustness import _robustness_cases
from cases_text import _text_cases
from cases_timeseries import _timeseries_cases
from cases_vision import _vision_cases

__all__ = ["MISSING", "Case", "all_cases"]


def all_cases() -> list[Case]:
    """Every registered case; a domain whose extra is missing contributes none."""
    cases = _core_cases()
    for domain_cases in (_vision_cases, _timeseries_cases, _molecules_cases, _text_cases, _robustness_cases):
        try:
            cases += domain_cases()
        except ImportError:
            continue
    return cases
