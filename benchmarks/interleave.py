"""Latency rounds measured round by round across configurations, reported through pytest-benchmark.

pytest-benchmark runs one benchmark at a time: every round of ``seed`` comes before the
first round of ``default``. On a host whose speed drifts (2x within minutes on a shared
VM) a ratio to ``seed`` then measures the drift as much as the code. :class:`RoundRobin`
measures one call for every configuration of a benchmark round by round (round 1:
seed, default, variants...; round 2: the same...), once, when the first of those
benchmarks runs; each benchmark then hands its own configuration's rounds to
pytest-benchmark (:func:`report_rounds`), which keeps doing its statistics, JSON,
grouping and ``compare``.

The configurations of a benchmark are the collected items of the same test function
whose other parameters are equal (``test_predict_proba[seed-keras-8]``,
``[default-onnx-8]``, ... for batch 8), so ``-k`` deselection also narrows what is measured.

Examples
--------
In a benchmark (``interleaved`` is the fixture of ``benchmarks/conftest.py``)::

    def test_predict_proba(benchmark, interleaved, models, crops, config, form, batch):
        X = crops[:batch]
        interleaved(lambda config, form: partial(models.pipe(config, form).predict_proba, X), rounds=50)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import pytest

Key = tuple[tuple[str, Hashable], ...]
"""A configuration of a benchmark: ``(("config", "seed"), ("form", "onnx"))``."""


def round_robin(
    calls: Mapping[Key, Callable[[], Any]],
    rounds: int,
    warmup_rounds: int = 0,
    timer: Callable[[], float] = time.perf_counter,
) -> tuple[dict[Key, list[float]], dict[Key, list[Any]]]:
    """Time every call ``rounds`` times, one call of each per round, in the mapping's order.

    Parameters
    ----------
    calls : mapping of Key to callable
        What to time, without arguments, per configuration.
    rounds : int
        Timed rounds.
    warmup_rounds : int
        Untimed rounds first (also round by round).
    timer : callable
        The clock (seconds).

    Returns
    -------
    durations : dict of Key to list of float
        Seconds of each round.
    results : dict of Key to list
        What each round's call returned.
    """
    for _ in range(warmup_rounds):
        for call in calls.values():
            call()
    durations: dict[Key, list[float]] = {k: [] for k in calls}
    results: dict[Key, list[Any]] = {k: [] for k in calls}
    for _ in range(rounds):
        for key, call in calls.items():
            t = timer()
            result = call()
            durations[key].append(timer() - t)
            results[key].append(result)
    return durations, results


def report_rounds(benchmark: Any, durations: Sequence[float], result: Any = None) -> Any:
    """Hand rounds timed elsewhere to pytest-benchmark, as if ``benchmark.pedantic`` had timed them.

    ``pedantic`` times its target with the fixture's clock; here that clock replays the
    given durations (start 0, end ``d``, for each round), so the stats, the JSON and
    ``pytest-benchmark compare`` are pytest-benchmark's own. The clock is the one
    private attribute used (``BenchmarkFixture._timer``, read when ``pedantic`` starts).

    Parameters
    ----------
    benchmark : pytest_benchmark.fixture.BenchmarkFixture
        The current benchmark's fixture, not used yet.
    durations : sequence of float
        Seconds per round (at least one).
    result : Any
        What ``pedantic`` returns.

    Returns
    -------
    Any
        ``result``.
    """
    if not hasattr(benchmark, "_timer"):
        raise RuntimeError("pytest-benchmark's fixture has no _timer any more: update report_rounds")
    ticks = iter([t for d in durations for t in (0.0, float(d))])

    def perf_counter() -> float:  # the name the JSON records as the timer, as for pedantic's own
        return next(ticks)

    benchmark._timer = perf_counter
    return benchmark.pedantic(lambda: result, rounds=len(durations), iterations=1)


def _params(item: pytest.Item) -> dict[str, Any]:
    spec = getattr(item, "callspec", None)
    return dict(spec.params) if spec is not None else {}


class RoundRobin:
    """Session cache of round-robin measurements, one per benchmark function and other parameters.

    Parameters
    ----------
    over : sequence of str
        The parameters whose values are the configurations (those an item has).
    """

    def __init__(self, over: Sequence[str] = ("config", "form")) -> None:
        self.over = tuple(over)
        self._pending: dict[Hashable, dict[Key, tuple[list[float], list[Any]]]] = {}
        self._skipped: dict[Hashable, dict[Key, str]] = {}

    def _split(self, item: pytest.Item) -> tuple[Hashable, Key]:
        params = _params(item)
        key = tuple((name, params.pop(name)) for name in self.over if name in params)
        others = tuple(sorted((k, repr(v)) for k, v in params.items()))
        return (str(item.path), getattr(item, "originalname", item.name), others), key

    def _siblings(self, item: pytest.Item, items: Iterable[pytest.Item]) -> list[Key]:
        group, _ = self._split(item)
        keys = [key for g, key in map(self._split, items) if g == group]
        return list(dict.fromkeys(keys))

    def run(
        self,
        item: pytest.Item,
        benchmark: Any,
        factory: Callable[..., Callable[[], Any]],
        *,
        rounds: int,
        warmup_rounds: int = 0,
    ) -> list[Any]:
        """Measure ``factory``'s calls for all configurations of ``item`` (first time), report ``item``'s.

        Parameters
        ----------
        item : pytest.Item
            The running benchmark.
        benchmark : BenchmarkFixture
            Its fixture.
        factory : callable
            ``factory(config=..., form=...)`` (the parameters of :attr:`over` the items
            have) returns the call to time for that configuration; a ``pytest.skip`` in
            it skips that configuration's benchmark only.
        rounds, warmup_rounds : int
            As for ``benchmark.pedantic``; pytest-benchmark's ``--benchmark-disable``
            makes it one round, no warm-up.

        Returns
        -------
        list
            What ``item``'s call returned in each round.
        """
        group, mine = self._split(item)
        if benchmark.disabled:
            rounds, warmup_rounds = 1, 0
        if group not in self._pending or mine not in {*self._pending[group], *self._skipped[group]}:
            # First of its group (or run again, e.g. by a rerun plugin: then measured alone).
            keys = self._siblings(item, item.session.items) if group not in self._pending else [mine]
            calls, skipped = {}, {}
            for key in keys:
                try:
                    calls[key] = factory(**dict(key))
                except pytest.skip.Exception as exc:
                    skipped[key] = str(exc.msg)
            durations, results = round_robin(calls, rounds, warmup_rounds)
            self._pending.setdefault(group, {}).update({k: (durations[k], results[k]) for k in calls})
            self._skipped.setdefault(group, {}).update(skipped)
        if mine in self._skipped[group]:
            pytest.skip(self._skipped[group][mine])
        durations, results = self._pending[group].pop(mine)  # measured once, reported once
        report_rounds(benchmark, durations, results[-1])
        return results


__all__ = ["RoundRobin", "report_rounds", "round_robin"]
