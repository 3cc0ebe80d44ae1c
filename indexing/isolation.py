"""Parse each source file in a worker process with a per-file time limit and memory cap.

A pathological PDF (a parser loop, a page that takes minutes to lay out, an
allocation bomb, a crash inside MuPDF) must not hang or kill an indexing run.
``IsolatedParser`` sends one path at a time to a long-lived worker process; if
the answer does not come back within ``timeout_s`` the worker is killed, the
file is reported as unreadable with a one-line reason, and a fresh worker takes
the next file.  A worker that dies (segfault, out of memory) is replaced the
same way.

Workers are forked from a ``forkserver`` that has PyMuPDF and the parser already
imported, so starting one costs milliseconds and never inherits the indexer's
torch or FAISS threads.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import pathlib
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Callable

from evsum.errors import UnreadableDocumentError
from indexing.parsed import ParsedSource

ParseFunction = Callable[[pathlib.Path], ParsedSource]
_PRELOAD = ["indexing.pdf"]


def parse_pdf_file(path: pathlib.Path, *, detect_tables: bool = True) -> ParsedSource:
    """``indexing.pdf.parse_pdf`` as a module-level function (picklable, for the worker)."""
    from indexing.pdf import parse_pdf

    return parse_pdf(path, detect_tables=detect_tables)


def pdf_parser(detect_tables: bool) -> ParseFunction:
    """The default PDF parse function with its options bound (picklable)."""
    return partial(parse_pdf_file, detect_tables=detect_tables)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Per-file limits a worker enforces: wall-clock seconds and address-space megabytes."""

    timeout_s: float
    memory_mb: int | None = None


def _limit_memory(memory_mb: int | None) -> None:
    if not memory_mb:
        return
    import resource

    limit = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker(connection: multiprocessing.connection.Connection, parse: ParseFunction, memory_mb: int | None) -> None:
    """Worker loop: receive a path, send back ``("ok", parsed)``, ``("unreadable", reason)`` or ``("error", text)``."""
    _limit_memory(memory_mb)
    while True:
        try:
            raw = connection.recv()
        except EOFError:
            return
        if raw is None:
            return
        message: tuple[str, Any]
        try:
            message = ("ok", parse(pathlib.Path(raw)))
        except UnreadableDocumentError as error:
            message = ("unreadable", error.reason)
        except MemoryError:
            message = ("unreadable", f"parser ran out of memory (limit {memory_mb} MB)")
        except Exception as error:  # a parser bug on one file must not stop the run
            message = ("error", f"parser error: {error!r}"[:200])
        try:
            connection.send(message)
        except (MemoryError, OSError, ValueError) as error:  # e.g. a result too large to send
            connection.send(("error", f"parser result could not be returned: {error!r}"[:200]))


class IsolatedParser:
    """A parse function that runs in a killable worker process; use as a context manager.

    Calling it returns the ``ParsedSource`` or raises ``UnreadableDocumentError``
    (unreadable file, parser error, time limit exceeded, worker crashed).
    """

    def __init__(self, parse: ParseFunction, limits: ParseLimits) -> None:
        self._parse = parse
        self.limits = limits
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)
        self._process: Any = None
        self._connection: multiprocessing.connection.Connection | None = None

    def __enter__(self) -> IsolatedParser:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _start(self) -> multiprocessing.connection.Connection:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker, args=(child, self._parse, self.limits.memory_mb),
                                        name="evsum-parse", daemon=True)
        process.start()
        child.close()
        self._process, self._connection = process, parent
        return parent

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._connection is not None:
            self._connection.close()
        self._process, self._connection = None, None

    def __call__(self, path: pathlib.Path) -> ParsedSource:
        """Parse ``path`` in the worker within the time limit."""
        connection = self._connection or self._start()
        try:
            connection.send(str(path))
            if not connection.poll(self.limits.timeout_s):
                self._kill()
                raise UnreadableDocumentError(str(path), f"parsing took longer than the per-file limit of "
                                                         f"{self.limits.timeout_s:g} s (stopped)")
            status, payload = connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            code = self._process.exitcode if self._process is not None else None
            if self._process is not None:
                self._process.join(1)
                code = self._process.exitcode
            self._kill()
            raise UnreadableDocumentError(str(path), f"the parser crashed on this file (worker exit code {code})"
                                          ) from None
        if status == "ok":
            parsed: ParsedSource = payload
            return parsed
        raise UnreadableDocumentError(str(path), str(payload))

    def close(self) -> None:
        """Stop the worker (politely, then by force)."""
        if self._connection is not None and self._process is not None:
            with contextlib.suppress(OSError):
                self._connection.send(None)
            self._process.join(2)
        self._kill()
