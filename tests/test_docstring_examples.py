"""The examples in the library's docstrings run and show what they say.

Each module's examples are run as :mod:`doctest` runs them. Examples marked
``# doctest: +SKIP`` need files a user has and the tests do not (``drawing.png``, the full
data, a Dask scheduler): they are documentation only, and not counted here.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mathocr

# __main__ runs the command line when imported.
MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(mathocr.__path__, "mathocr.") if name != "mathocr.__main__"
)


def test_every_module_is_found():
    assert {"mathocr.solver", "mathocr.decoding", "mathocr.web.app"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    for test in finder.find(module, name):
        if test.examples:
            result = runner.run(test, out=failures.append)
            assert result.failed == 0, "".join(failures)
