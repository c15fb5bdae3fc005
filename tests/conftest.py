"""Shared test settings: hypothesis runs the same examples on every machine, and what CI
provides never skips there.

A test that needs an optional package or data set skips where it is absent, naming what to
install, except under ``CI=true``: CI (``.ci/run``) installs every extra, MNIST and
Fashion-MNIST, so there a missing one fails the test instead of hiding it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, settings

from deltaprop.engines import numba_installed

settings.register_profile(
    "deltaprop",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("deltaprop")

IN_CI = os.environ.get("CI") == "true"


def missing(reason: str) -> NoReturn:
    """Skip the calling test (or module) for ``reason``; fail instead under ``CI=true``."""
    if IN_CI:
        pytest.fail(f"{reason}; CI=true provides it, so this test may not skip", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require(module: str, install: str = "make .venv/.test") -> ModuleType:
    """Import ``module`` (like ``pytest.importorskip``), or ``missing`` naming ``install``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing(f"{module} cannot be imported ({error}): {install}")


def needs(available: bool, reason: str) -> pytest.MarkDecorator:
    """Mark a test that runs only when ``available``; otherwise ``missing(reason)``."""
    return pytest.mark.needs(available=available, reason=reason)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(available, reason): see tests/conftest.py")


def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs"):
        if not mark.kwargs["available"]:
            missing(mark.kwargs["reason"])


@pytest.fixture(params=["numpy", "compiled"])
def engine(request) -> str:
    """Each engine by name; "compiled" skips without numba, even in CI: ``make test-numpy``
    runs the suite in a venv left without it on purpose."""
    if request.param == "compiled" and not numba_installed():
        pytest.skip('numba is not installed (pip install "deltaprop[fast]"): no compiled engine')
    return request.param
