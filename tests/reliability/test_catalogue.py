"""Every catalogued bad input raises the named error with a message naming the problem, and
docs/reliability.md is the current rendering of the catalogue."""
import re
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalogue import DOC, render, scratch_in
from reliability_cases import all_cases

# the cases' scratch folders, made when they are built at collection: removed at the session's end
_SCRATCH = tempfile.TemporaryDirectory(prefix="polydiff-catalogue-")
with scratch_in(_SCRATCH.name):
    CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.api}:{c.problem}" for c in CASES])
def test_bad_input_raises_a_named_error(case):
    with pytest.raises(case.error) as info:
        case.call()
    assert re.search(case.match, str(info.value)), str(info.value)


def test_catalogue_sizes():
    """At least 10 cases for the core contract and 5 per domain (issue: reliability pass)."""
    assert sum(c.api.startswith(("pc.", "GaussianProcess")) for c in CASES) >= 10
    for domain in ("vision", "timeseries", "molecules", "text", "robustness"):
        assert sum(c.api.startswith(domain + ".") for c in CASES) >= 5, domain


def test_document_is_generated_from_the_cases():
    assert DOC.read_text() == render(), "run: python tests/reliability/catalogue.py"
