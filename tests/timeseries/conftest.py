import pytest

pytest.importorskip("gluonts")
pytest.importorskip("pandas")
