"""Shared fixtures: a seeded RNG and the float dtypes every kernel supports."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def _run_outside_checkout(tmp_path_factory):
    """Run the session from a scratch directory.

    A subprocess started in the checkout would import the source tree's ``dlx`` (which has
    no built ``_core``) instead of the installed package; tests that need repository files
    locate them from ``__file__``.
    """
    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(old)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request) -> type:
    return request.param
