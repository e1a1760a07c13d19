"""Solving many images: input discovery, ordered streaming, output files, resuming, Dask.

::

    paths, folders, globs, a manifest -> iter_inputs -> (name, source) pairs
        -> solve_records: chunks of images, solved here, in local processes or on Dask,
           results in input order, a bounded number of chunks in flight
        -> a writer (JSON Lines, CSV, Parquet) -> Summary

Memory stays flat however many images there are: inputs are discovered lazily, at most
``batch_size`` images are decoded at once per process, and at most a few chunks per
worker are in flight. A failed image is a result with ``status: "error"``, never the end
of a run. Results are written, and flushed, a chunk at a time in input order, so a run
that is killed leaves a prefix of its results; :func:`read_done` reads that prefix back
(dropping a half-written last line) and :func:`run` with ``resume=True`` solves only the
rest.

On a Dask cluster (or in local processes) each worker process loads the model once
(:func:`worker_solver`) and receives chunks of paths, which it reads itself: the workers
must see the same files (shared storage) — paths are made absolute before they are sent.

Examples
--------
>>> from mathocr.batch import iter_inputs, run               # doctest: +SKIP
>>> summary = run(iter_inputs(["scans/"]), "results.jsonl")  # doctest: +SKIP
>>> print(summary)                                           # doctest: +SKIP
1,000 images in 7.9 s (127 images/s): 950 ok, 30 unsure, 20 errors (nothing_found 20)
"""

from __future__ import annotations

import collections
import contextlib
import csv
import glob
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import MathOCRError
from .region import Region
from .solver import BATCH_SIZE, Solution, Solver

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
"""Files a folder is searched for (case-insensitive); other files in it are ignored."""

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
"""Output format by file suffix."""

CSV_COLUMNS = (
    "file",
    "status",
    "expression",
    "value",
    "decimal",
    "correct",
    "confidence",
    "code",
    "error",
    "warnings",
    "alternatives",
)
"""Columns of CSV and Parquet output: the JSON record, flat (no tokens); ``warnings`` and
``alternatives`` are joined with ``"; "``, and so are the lines' expressions, values and
``correct`` (``true``/``false``, empty for no equation) of an image with several lines."""

Item = tuple[str, Any]
"""An input: its name in the output, and what is read (a path, or bytes for stdin)."""


# ---------------------------------------------------------------- inputs


def _walk(folder: str) -> Iterator[str]:
    """Image files under ``folder``, depth first, each folder's entries sorted by name."""
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry.path)
        elif entry.name.lower().endswith(IMAGE_SUFFIXES):
            yield entry.path


def iter_manifest(path: str | os.PathLike, column: str = "path") -> Iterator[str]:
    """The paths listed in a manifest, in its order.

    Parameters
    ----------
    path : path-like
        A CSV file with a header row, or JSON Lines (``.jsonl``, ``.ndjson``: one object a
        line). Relative paths in it are relative to the manifest's folder.
    column : str, default "path"
        The column (key) holding the image paths.

    Yields
    ------
    str

    Raises
    ------
    mathocr.errors.MathOCRError
        Missing manifest, no such column, a line that is not a JSON object.

    Examples
    --------
    >>> list(iter_manifest("scans/manifest.csv"))   # doctest: +SKIP
    ['scans/a.png', 'scans/b.png']
    """
    path = Path(path)
    base = path.parent
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise MathOCRError(f"cannot read the manifest {str(path)!r}: {exc.strerror or exc}") from None
    with fh:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                if not isinstance(row, dict):
                    raise MathOCRError(f"{path}, line {n}: not a JSON object")
                if column not in row:
                    raise MathOCRError(f"{path}, line {n}: no {column!r} key")
                yield str(base / str(row[column]))
            return
        reader = csv.DictReader(fh)
        if column not in (reader.fieldnames or ()):
            raise MathOCRError(
                f"the manifest {str(path)!r} has no {column!r} column (columns: {reader.fieldnames})"
            )
        for row in reader:
            if row[column]:
                yield str(base / row[column])


def iter_inputs(
    inputs: Iterable[str] = (),
    *,
    manifest: str | os.PathLike | None = None,
    column: str = "path",
    stdin: IO[bytes] | None = None,
) -> Iterator[Item]:
    """Expand paths, folders, globs and a manifest into ``(name, source)`` pairs, lazily.

    Parameters
    ----------
    inputs : iterable of str
        Image paths; folders (searched recursively for :data:`IMAGE_SUFFIXES`, sorted);
        glob patterns (``scans/**/*.png``, sorted); ``"-"`` for stdin's bytes. A path or
        pattern that matches nothing is kept: it becomes an ``invalid_image`` result.
    manifest : path-like, optional
        A CSV or JSON Lines file listing paths (:func:`iter_manifest`), after ``inputs``.
    column : str, default "path"
        The manifest's path column.
    stdin : binary file, optional
        Where ``"-"`` is read from (default ``sys.stdin.buffer``).

    Yields
    ------
    (str, path or bytes)
        The name written in the output, and the source to read.

    Examples
    --------
    >>> [name for name, _ in iter_inputs(["scans/", "extra/*.jpg"])]   # doctest: +SKIP
    ['scans/a.png', 'scans/sub/b.png', 'extra/c.jpg']
    """
    for item in inputs:
        if item == "-":
            yield item, (stdin or sys.stdin.buffer).read()
        elif os.path.isdir(item):
            for path in _walk(item):
                yield path, path
        elif glob.has_magic(item) and not os.path.exists(item):
            matches = sorted(glob.iglob(item, recursive=True))
            for path in matches or [item]:
                yield path, path
        else:
            yield item, item
    if manifest is not None:
        for path in iter_manifest(manifest, column):
            yield path, path


# ---------------------------------------------------------------- solving


def record(name: str, solution: Solution) -> dict[str, Any]:
    """One output record: ``{"file": name, **solution.to_dict()}`` (the ``--json`` contract)."""
    return {"file": name, **solution.to_dict()}


def _solve_alone(solver: Solver, source: Any, region: Region | None = None) -> Solution:
    try:
        return next(solver.solve_many([source], on_error="return", region=region))
    except Exception as exc:  # one image's failure must not end a run
        return Solution.failure(MathOCRError(f"could not be solved ({type(exc).__name__}: {exc})"))


def solve_chunk(solver: Solver, chunk: Sequence[Item], region: Region | None = None) -> list[dict[str, Any]]:
    """Solve a chunk of inputs in one classifier call; a record per input, in order.

    ``region``, when given, is the rectangle read of every image (:meth:`Solver.solve`).

    An unexpected failure (not an unreadable image, which is a result anyway) makes the
    chunk's images be solved one by one, so only the image that causes it fails.

    Examples
    --------
    >>> solve_chunk(Solver.load(), [("a.png", "a.png")])[0]["status"]   # doctest: +SKIP
    'ok'
    """
    sources = [source for _, source in chunk]
    try:
        solutions = list(
            solver.solve_many(sources, on_error="return", batch_size=max(len(sources), 1), region=region)
        )
    except Exception:  # a bug hit by one image: find it, solve the others
        solutions = [_solve_alone(solver, source, region) for source in sources]
    return [record(name, sol) for (name, _), sol in zip(chunk, solutions, strict=True)]


_SOLVERS: dict[str | None, Solver] = {}
_SOLVERS_LOCK = threading.Lock()
_LOADS = collections.Counter()


def worker_solver(model: str | None = None) -> Solver:
    """This process's solver for ``model``, loaded on first use and kept.

    Tasks sent to a Dask worker or a process pool call this, so each worker process
    loads the model once, however many chunks it solves.

    Examples
    --------
    >>> worker_solver() is worker_solver()   # doctest: +SKIP
    True
    """
    with _SOLVERS_LOCK:
        if model not in _SOLVERS:
            _SOLVERS[model] = Solver.load(model)
            _LOADS[model] += 1
        return _SOLVERS[model]


def model_loads() -> dict[str | None, int]:
    """How many times this process loaded each model (once each, unless something is wrong)."""
    return dict(_LOADS)


def _remote_chunk(model: str | None, chunk: Sequence[Item], region: Region | None) -> list[dict[str, Any]]:
    return solve_chunk(worker_solver(model), chunk, region)


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _absolute(items: Iterable[Item]) -> Iterator[Item]:
    # Another process may run in another folder (a Dask worker does).
    for name, source in items:
        yield name, os.path.abspath(source) if isinstance(source, str) else source


def _ordered(
    submit: Callable[[list[Item]], Any], chunks: Iterable[list[Item]], in_flight: int
) -> Iterator[dict[str, Any]]:
    """Submit chunks, keep at most ``in_flight`` pending, yield results in submission order."""
    pending: collections.deque = collections.deque()
    for chunk in chunks:
        pending.append(submit(chunk))
        if len(pending) >= in_flight:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler``, or of a new local one of ``workers`` processes.

    Raises
    ------
    mathocr.errors.MathOCRError
        dask.distributed is not installed, or the scheduler cannot be reached.

    Examples
    --------
    >>> with dask_client(workers=2) as client:   # doctest: +SKIP
    ...     print(len(client.scheduler_info()["workers"]))
    2
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise MathOCRError(
            f"--workers and --scheduler need dask.distributed ({exc.name} is missing): "
            "pip install 'mathocr[bench]'"
        ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise MathOCRError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    import dask

    # One thread a worker: a worker's ONNX session already uses its core. Dask's profiler
    # samples each worker's stack every 10 ms for a dashboard nobody looks at here (about
    # 1 ms of CPU per image in a 3,000-image check; benchmarks/README.md, "Batch solving").
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(
            n_workers=int(workers or 1), threads_per_worker=1, processes=True, dashboard_address=None
        )
    with cluster, Client(cluster) as client:
        yield client


def solve_records(
    items: Iterable[Item],
    *,
    solver: Solver | None = None,
    model: str | None = None,
    jobs: int = 1,
    client: Any = None,
    batch_size: int = BATCH_SIZE,
    region: Region | None = None,
) -> Iterator[dict[str, Any]]:
    """Solve inputs and yield their records (:func:`record`) in input order.

    Parameters
    ----------
    items : iterable of (name, source)
        From :func:`iter_inputs`; consumed lazily.
    solver : Solver, optional
        Solve here with it (default: :func:`worker_solver` of ``model``).
    model : str, optional
        The pipeline file each process loads (None: the bundled model); with ``jobs`` or
        ``client``.
    jobs : int, default 1
        Local processes; more than 1 starts a process pool, each loading the model once.
    client : dask.distributed.Client, optional
        Solve on its cluster (:func:`dask_client`), each worker loading the model once.
    batch_size : int
        Images per chunk: per classifier call, and per task sent to a process.
    region : Region, optional
        Read only this rectangle of every image (:meth:`Solver.solve`); an image it
        misses is an ``invalid_region`` result.

    Yields
    ------
    dict

    Examples
    --------
    >>> for rec in solve_records(iter_inputs(["scans/"]), jobs=2):   # doctest: +SKIP
    ...     print(rec["file"], rec["status"])
    """
    if client is not None:
        # Slack for uneven chunks: results are taken oldest first, so a worker that is ahead
        # must find more queued than the one chunk it is waiting behind.
        in_flight = 4 * max(len(client.scheduler_info().get("workers", {})), 1)
        chunks = _chunks(_absolute(items), batch_size)
        yield from _ordered(
            lambda c: client.submit(_remote_chunk, model, c, region, pure=False), chunks, in_flight
        )
        return
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: the parent may hold threads (a progress bar's, a model's) that fork would copy mid-lock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            chunks = _chunks(_absolute(items), batch_size)
            yield from _ordered(lambda c: pool.submit(_remote_chunk, model, c, region), chunks, 4 * jobs)
        return
    solver = solver or worker_solver(model)
    for chunk in _chunks(items, batch_size):
        yield from solve_chunk(solver, chunk, region)


# ---------------------------------------------------------------- output


def output_format(path: str | os.PathLike | None, fmt: str | None = None) -> str:
    """``fmt`` if given, else the format named by the suffix of ``path``.

    Examples
    --------
    >>> output_format("results.csv"), output_format("out.txt", "jsonl")
    ('csv', 'jsonl')
    """
    if fmt is not None:
        if fmt not in ("jsonl", "csv", "parquet"):
            raise MathOCRError(f"unknown output format {fmt!r}: jsonl, csv or parquet")
        return fmt
    suffix = Path(path).suffix.lower() if path is not None else ""
    if suffix not in FORMATS:
        raise MathOCRError(
            f"cannot tell the output format of {str(path)!r} from its suffix: "
            "use .jsonl, .csv or .parquet, or --format"
        )
    return FORMATS[suffix]


def _cell(value: Any) -> str:
    """A value in a text column: ``true``/``false`` as in the JSON, ``""`` for none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _flat(rec: dict[str, Any]) -> dict[str, Any]:
    """A record as a CSV/Parquet row; one line per row, whatever the messages hold."""
    row = {key: rec.get(key) for key in CSV_COLUMNS}
    if rec.get("lines"):  # several lines of writing: each column holds the lines' values
        for key in ("expression", "value", "decimal", "correct"):
            row[key] = "; ".join(_cell(line.get(key)) for line in rec["lines"])
    elif row["correct"] is not None:
        row["correct"] = _cell(row["correct"])
    row["warnings"] = "; ".join(rec.get("warnings", ()))
    row["alternatives"] = "; ".join(f"{a['expression']} = {a['value']}" for a in rec.get("alternatives", ()))
    for key in ("file", "error", "warnings"):
        if isinstance(row[key], str):
            row[key] = " ".join(row[key].splitlines())
    return row


class JsonlWriter:
    """One JSON object a line, flushed a chunk at a time."""

    def __init__(self, fh: IO[str], append: bool = False) -> None:
        self.fh = fh

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self.fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        self.fh.flush()

    def close(self) -> None:
        self.fh.flush()


class CsvWriter:
    """:data:`CSV_COLUMNS`, a header row first (unless appending to a file that has one)."""

    def __init__(self, fh: IO[str], append: bool = False) -> None:
        self.fh = fh
        self.writer = csv.DictWriter(fh, CSV_COLUMNS, lineterminator="\n")
        if not append:
            self.writer.writeheader()

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self.writer.writerows(_flat(r) for r in records)
        self.fh.flush()

    def close(self) -> None:
        self.fh.flush()


class ParquetWriter:
    """:data:`CSV_COLUMNS` as a Parquet file (needs pyarrow), a row group per 10,000 rows."""

    ROWS = 10_000

    def __init__(self, path: str | os.PathLike) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MathOCRError(
                "Parquet output needs pyarrow: pip install 'mathocr[parquet]' (or write .jsonl or .csv)"
            ) from None
        self.pa = pa
        fields = [(c, pa.float64() if c == "confidence" else pa.string()) for c in CSV_COLUMNS]
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(str(path), self.schema)
        self.rows: list[dict[str, Any]] = []

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self.rows.extend(_flat(r) for r in records)
        if len(self.rows) >= self.ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


def _open_output(path: str | os.PathLike, append: bool) -> IO[str]:
    try:
        return open(path, "a" if append else "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise MathOCRError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


def read_done(path: str | os.PathLike, fmt: str) -> collections.Counter[str]:
    """The names an existing output holds, after cutting off a half-written last line.

    A run writes whole lines in input order, so a killed run leaves complete lines and at
    most one partial last line; that line is removed from the file (its image is solved
    again), and the names of the complete ones are counted.

    Parameters
    ----------
    path : path-like
        A JSON Lines or CSV output of :func:`run`; a missing or empty file holds nothing.
    fmt : {"jsonl", "csv"}

    Returns
    -------
    collections.Counter
        How many times each name is in the output.

    Raises
    ------
    mathocr.errors.MathOCRError
        A Parquet output (it cannot be appended to), or a file that is not one of ours.

    Examples
    --------
    >>> read_done("results.jsonl", "jsonl").total()   # doctest: +SKIP
    5000
    """
    if fmt == "parquet":
        raise MathOCRError("--resume needs a .jsonl or .csv output: a Parquet file cannot be appended to")
    done: collections.Counter[str] = collections.Counter()
    if not os.path.exists(path):
        return done
    keep = 0  # bytes of complete, valid lines
    try:
        fh = open(path, "r+b")
    except OSError as exc:
        raise MathOCRError(f"cannot resume {str(path)!r}: {exc.strerror or exc}") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.endswith(b"\n"):
                break  # the run was killed while writing it
            text = line.decode("utf-8")
            if fmt == "jsonl":
                try:
                    name = json.loads(text)["file"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise MathOCRError(f"{path}, line {n}: not a result of mathocr solve") from None
            else:
                row = next(csv.reader([text]))
                if n == 1:
                    if tuple(row) != CSV_COLUMNS:
                        raise MathOCRError(f"{path}: not a CSV output of mathocr solve (unexpected header)")
                    keep = fh.tell()
                    continue
                name = row[0]
            done[name] += 1
            keep = fh.tell()
        fh.truncate(keep)
    return done


def skip_done(
    items: Iterable[Item],
    done: collections.Counter[str],
    on_skip: Callable[[str], None] | None = None,
) -> Iterator[Item]:
    """``items`` without those already in ``done`` (each name as many times as it is there).

    ``on_skip`` is called with the name of each item left out.

    Examples
    --------
    >>> items = [("a", "a"), ("b", "b"), ("a", "a")]
    >>> [n for n, _ in skip_done(items, collections.Counter(["a"]))]
    ['b', 'a']
    """
    done = collections.Counter(done)
    for name, source in items:
        if done[name] > 0:
            done[name] -= 1
            if on_skip is not None:
                on_skip(name)
            continue
        yield name, source


# ---------------------------------------------------------------- summary


@dataclass
class Summary:
    """What a run did: counts by status, errors by code, time.

    Examples
    --------
    >>> s = Summary(ok=8, unsure=1, errors=collections.Counter({"nothing_found": 1}), seconds=2.0)
    >>> print(s)
    10 images in 2.0 s (5.0 images/s): 8 ok, 1 unsure, 1 error (nothing_found 1)
    """

    ok: int = 0
    unsure: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped: int = 0
    unmatched: int = 0
    seconds: float = 0.0

    def add(self, rec: dict[str, Any]) -> None:
        if rec["status"] == "error":
            self.errors[rec["code"]] += 1
        elif rec["status"] == "unsure":
            self.unsure += 1
        else:
            self.ok += 1

    @property
    def total(self) -> int:
        """Images solved in this run (not those skipped)."""
        return self.ok + self.unsure + self.errors.total()

    @property
    def rate(self) -> float:
        """Images per second."""
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.total,
            "ok": self.ok,
            "unsure": self.unsure,
            "errors": dict(self.errors.most_common()),
            "skipped": self.skipped,
            "unmatched": self.unmatched,
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.rate, 1),
        }

    def __str__(self) -> str:
        n_err = self.errors.total()
        text = (
            f"{self.total:,} images in {self.seconds:.1f} s ({self.rate:,.1f} images/s): "
            f"{self.ok:,} ok, {self.unsure:,} unsure, {n_err:,} error{'s' * (n_err != 1)}"
        )
        if n_err:
            text += " (" + ", ".join(f"{code} {n:,}" for code, n in self.errors.most_common()) + ")"
        if self.skipped:
            text += f"; {self.skipped:,} skipped, already in the output"
        if self.unmatched:
            # Resumed with the inputs named otherwise (another folder spelling, a new manifest)?
            what = "result in the output matches" if self.unmatched == 1 else "results in the output match"
            text += f"; {self.unmatched:,} {what} no input"
        return text


# ---------------------------------------------------------------- the whole run


def run(
    items: Iterable[Item],
    output: str | os.PathLike | IO[str],
    *,
    fmt: str | None = None,
    resume: bool = False,
    progress: bool | None = False,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    **solve: Any,
) -> Summary:
    """Solve ``items`` into ``output``, in input order, and summarise.

    Parameters
    ----------
    items : iterable of (name, source)
        From :func:`iter_inputs`.
    output : path-like or text stream
        Where results go; a stream (stdout) takes JSON Lines or CSV.
    fmt : {"jsonl", "csv", "parquet"}, optional
        Default: from the suffix of ``output`` (:func:`output_format`).
    resume : bool, default False
        Keep what ``output`` already holds and solve only the inputs it lacks
        (:func:`read_done`); otherwise ``output`` is overwritten.
    progress : bool or None, default False
        A tqdm progress bar on stderr; None: only when stderr is a terminal.
    on_record : callable, optional
        Called with each record as it is written.
    **solve
        Passed to :func:`solve_records` (``solver``, ``model``, ``jobs``, ``client``,
        ``batch_size``, ``region``).

    Returns
    -------
    Summary

    Examples
    --------
    >>> print(run(iter_inputs(["scans/"]), "out.csv", resume=True, jobs=2))   # doctest: +SKIP
    400 images in 3.1 s (129.0 images/s): 390 ok, 4 unsure, 6 errors (nothing_found 6); 600 skipped, ...
    """
    from tqdm import tqdm

    stream = not isinstance(output, (str, os.PathLike))
    fmt = output_format(None if stream else output, fmt if fmt or not stream else "jsonl")
    if stream and fmt == "parquet":
        raise MathOCRError("Parquet output needs a file: --output results.parquet")
    if resume and stream:
        raise MathOCRError("--resume needs --output FILE")
    summary = Summary()
    done: collections.Counter[str] = collections.Counter()
    if resume:
        done = read_done(output, fmt)

        def skipped(name: str) -> None:
            summary.skipped += 1

        items = skip_done(items, done, skipped)
    # read_done left whole lines only (a CSV header included), so appending continues the file.
    append = resume and os.path.exists(output) and os.path.getsize(output) > 0
    with contextlib.ExitStack() as stack:
        if fmt == "parquet":
            writer: Any = ParquetWriter(output)
        else:
            fh = output if stream else stack.enter_context(_open_output(output, append))
            writer = (JsonlWriter if fmt == "jsonl" else CsvWriter)(fh, append=append)
        bar = stack.enter_context(
            tqdm(
                desc="solving",
                unit=" images",
                file=sys.stderr,
                disable=None if progress is None else not progress,
            )
        )
        start = time.perf_counter()
        records = solve_records(items, **solve)
        batch_size = solve.get("batch_size", BATCH_SIZE)
        try:
            for chunk in _chunks(records, batch_size):
                writer.write(chunk)
                for rec in chunk:
                    summary.add(rec)
                    if on_record is not None:
                        on_record(rec)
                bar.update(len(chunk))
        finally:
            summary.seconds = time.perf_counter() - start
            summary.unmatched = done.total() - summary.skipped
            writer.close()
    return summary


__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "Summary",
    "dask_client",
    "iter_inputs",
    "iter_manifest",
    "model_loads",
    "output_format",
    "read_done",
    "record",
    "run",
    "skip_done",
    "solve_chunk",
    "solve_records",
    "worker_solver",
]
