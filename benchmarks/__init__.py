"""The benchmark harness of mathocr (a source checkout's folder; not part of the installed package).

* :mod:`benchmarks.configs`: the configurations compared (``seed`` is the baseline) and the
  quick and full budgets;
* :mod:`benchmarks.harness`: ``mathocr bench``'s runner (pytest subprocess, ``run.json``,
  the README's "Last results");
* :mod:`benchmarks.report`: ``report.md`` from the pytest-benchmark JSON;
* :mod:`benchmarks.plots`: the report's PNG plots;
* :mod:`benchmarks.interleave`: latency rounds measured round by round across configurations;
* ``conftest.py`` and ``bench_*.py``: the pytest-benchmark suites; ``old_design.py``: the
  reading path mathocr replaced.
"""
