"""The reliability cases make their folders with ``tempfile.mkdtemp`` (they run outside a test's
``tmp_path`` too, from the catalogue): inside the tests, point them at a pytest-managed folder,
which pytest prunes (its last three runs kept), instead of leaving them in the system's /tmp."""
from __future__ import annotations

import tempfile

import pytest


@pytest.fixture(scope="session", autouse=True)
def _case_folders_under_pytest(tmp_path_factory):
    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("cases"))
    try:
        yield
    finally:
        tempfile.tempdir = before
