"""The conformance suite: the same code on framework and on PyTorch (CPU), compared.

It needs PyTorch (`pip install torch==2.13.0`, the CPU build) and is not part of the unit
suite: `python -m pytest tests/conformance`. See harness.py for what a case compares.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the conformance suite compares against PyTorch")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import harness` from the tests

import framework as fw  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    fw.manual_seed(0)
    torch.manual_seed(0)
    yield
