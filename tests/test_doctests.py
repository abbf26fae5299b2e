"""The examples in the modules' docstrings hold (``>>>`` lines): they document behaviour, and an
example that went stale misled its reader. Dashboards are left out: a page runs when imported."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("shared", "apps.support_bot", "apps.finance_monitor", "apps.recommender")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            if not info.name.startswith("dashboard") and info.name != "__main__":
                names.append(f"{package}.{info.name}")
    return names


@pytest.mark.parametrize("name", _modules())
def test_the_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples fail in {name}"
