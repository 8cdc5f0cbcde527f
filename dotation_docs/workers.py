"""Workers: spread the rendering of a run's documents over worker processes (``--jobs``).

The parent plans and compiles everything, then forks: each worker inherits the planned
documents and the compiled templates (nothing is pickled but the results), claims chunks
of documents in plan order, renders each and writes it into the run's staging folder,
and sends back where it is (:class:`~dotation_docs.outputdir.Staged`, or
:class:`~dotation_docs.outputdir.InPlace` when it was not written). The bytes do not
depend on which process renders a document.

Workers die with the parent: ``PR_SET_PDEATHSIG`` (Linux) kills a worker with SIGKILL
when the parent dies, even by SIGKILL; they ignore SIGINT (Ctrl-C reaches the whole
process group, the parent handles it), and the parent kills and reaps them on any
exception or signal. A worker's user error (TemplateError, OutputError…) is sent back
and raised again in the parent; when several documents fail, the one raised is the
first in plan order, as with one process.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from dotation_docs.exceptions import DotationError

if TYPE_CHECKING:
    from dotation_docs.outputdir import InPlace, Staged

    Made = Staged | InPlace

log = logging.getLogger(__name__)

__all__ = ["default_jobs", "run_parallel", "Background", "can_fork", "long_lived", "WorkerCrashError"]

PR_SET_PDEATHSIG = 1
CHUNK = 8  # documents claimed at once at most: few claims, little idle time at the end


class WorkerCrashError(RuntimeError):
    """A worker process died or failed with an unexpected error (a bug, not the user's)."""


def default_jobs() -> int:
    """The number of worker processes by default: the number of cores."""
    return os.cpu_count() or 1


def usable_jobs(asked: int) -> int:
    """``asked`` processes, at most four per core: beyond the cores they only add memory
    (each is a fork of the command), and ``-j 1000`` must not fork a thousand."""
    return max(1, min(asked, 4 * default_jobs()))


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


#: The signals that stop a command: Ctrl-C, SIGTERM, SIGHUP (the terminal closed).
STOPPING_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


@contextlib.contextmanager
def _forking() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back while a process is forked: the new process
    would otherwise meet one before its own handlers are set, inside Python's after-fork
    code (an English traceback on the agent's screen). This process gets it when the block
    ends, the new one once its handlers are set (:func:`_as_child`)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _as_child(parent: int) -> None:
    """In a forked worker: die with ``parent``, leave Ctrl-C to it (the whole process
    group gets it), end at once on SIGTERM and SIGHUP; then let the signals held back by
    :func:`_forking` through."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING_SIGNALS)


def _worker(produce: Callable[[int], Made], order: _Order, chunk: int, claimed: Any, stop: Any,
            conn: Connection, parent: int) -> None:
    _as_child(parent)
    while not stop.value:
        claim = _claim(claimed, order, chunk)
        if claim is None:
            break
        for index in claim:
            try:
                staged = produce(index)
            except DotationError as err:
                stop.value = True
                try:
                    conn.send(("error", index, err))
                except Exception:  # an exception that does not pickle: its message is enough
                    conn.send(("error", index, DotationError(err.message)))
                conn.close()
                return
            except BaseException:
                stop.value = True
                conn.send(("crash", index, traceback.format_exc()))
                conn.close()
                return
            conn.send(("ok", index, staged))
    conn.send(("done", None, None))
    conn.close()


class _Order(list[int]):
    """The order in which documents are claimed; the first ``alone`` one at a time."""

    def __init__(self, indexes: list[int], alone: int) -> None:
        super().__init__(indexes)
        self.alone = alone


def _claim(claimed: Any, order: _Order, chunk: int) -> Sequence[int] | None:
    """The next documents to render (None when all are claimed), in ``order``."""
    with claimed.get_lock():
        start = claimed.value
        size = 1 if start < order.alone else chunk
        claimed.value = start + size
    return order[start:start + size] if start < len(order) else None


def run_parallel(produce: Callable[[int], Made], total: int, jobs: int,
                 advance: Callable[[int], None] | None = None, first: Sequence[int] = ()) -> list[Made]:
    """Return ``produce(i)`` for every ``i`` below ``total``, in order, computed by
    ``jobs`` processes: this one and ``jobs - 1`` forked workers (``produce`` renders
    document ``i`` and writes it into the staging folder; a fork shares the parent's
    pages, so fewer processes hold less memory). ``advance(n)`` is called in the parent as documents are
    done. The documents ``first`` (the longest to make) are started first, so that no
    process is left alone with a long one at the end; the others follow in plan order.
    Raises the user error of the first failing document in plan order, and
    WorkerCrashError when a worker dies or fails unexpectedly."""
    context = multiprocessing.get_context("fork")
    claimed = context.Value("q", 0)
    stop = context.Value("b", False, lock=False)
    results: list[Made | None] = [None] * total
    errors: dict[int, DotationError] = {}
    crash: str | None = None
    died: int | None = None
    chunk = max(1, min(CHUNK, total // (jobs * 4)))
    early = list(dict.fromkeys(i for i in first if 0 <= i < total))
    taken = set(early)
    order = _Order(early + [i for i in range(total) if i not in taken], len(early))
    gc.collect()
    processes = []
    connections: dict[Connection, multiprocessing.process.BaseProcess] = {}
    with long_lived():  # the inherited objects stay shared: the collector does not touch their pages
        for _ in range(jobs - 1):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(produce, order, chunk, claimed, stop, sender, os.getpid()),
                                      daemon=True)
            with _forking():
                process.start()
                processes.append(process)
            sender.close()
            connections[receiver] = process
        log.info("Rendu par %d processus", jobs)
        with _reaped(processes):
            open_connections = list(connections)
            own = True  # this process renders too, between two looks at the workers' news
            while open_connections or own:
                claim = _claim(claimed, order, chunk) if own and not stop.value else None
                own = claim is not None
                for index in claim or ():
                    try:
                        results[index] = produce(index)
                    except DotationError as err:
                        errors[index] = err
                        stop.value = True
                        own = False
                        break
                    if advance is not None:
                        advance(1)
                if not open_connections:
                    continue
                for conn in wait(open_connections, timeout=0 if own else None):
                    while True:  # every message waiting: a full pipe would hold the worker back
                        try:
                            kind, index, payload = conn.recv()  # type: ignore[union-attr]
                        except EOFError:
                            open_connections.remove(conn)  # type: ignore[arg-type]
                            process = connections[conn]  # type: ignore[index]
                            process.join()
                            if process.exitcode != 0 and died is None:
                                died = process.exitcode
                            break
                        if kind == "ok":
                            results[index] = payload
                            if advance is not None:
                                advance(1)
                        elif kind == "error":
                            errors[index] = payload
                        elif kind == "crash":
                            crash = payload
                        if not conn.poll():  # type: ignore[union-attr]
                            break
    if errors:
        raise _first_error(produce, results, errors)
    if crash is not None:
        raise WorkerCrashError(f"rendering worker failed:\n{crash}")
    if died is not None:
        how = f"tué par le signal {-died}" if died < 0 else f"code de sortie {died}"
        raise DotationError(
            f"un processus de rendu s'est arrêté de façon inattendue ({how}) ; rien n'a été écrit, le lot "
            "précédent est conservé. Relancez la commande (avec --jobs 1 si cela se reproduit)."
        )
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise WorkerCrashError(f"documents not rendered: {missing[:10]}")
    return results  # type: ignore[return-value]


def _first_error(produce: Callable[[int], Made], results: list[Made | None],
                 errors: dict[int, DotationError]) -> DotationError:
    """The error of the first failing document in plan order, as one process would say it.
    The processes stop at the first failure they meet, and the longest documents were
    started first: a document before the first failure seen may not have been made. Each
    such one is made here, in plan order, until one fails (its error is the one to say)."""
    seen = min(errors)
    for index in range(seen):
        if results[index] is None and index not in errors:
            try:
                results[index] = produce(index)
            except DotationError as err:
                return err
    return errors[seen]


def can_fork() -> bool:
    """Whether :class:`Background` and :func:`run_parallel` can fork here (Linux, macOS)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _background(func: Callable[..., Any], args: tuple[Any, ...], conn: Connection, parent: int) -> None:
    _as_child(parent)
    try:
        result: tuple[str, Any] = ("ok", func(*args))
    except DotationError as err:
        result = ("error", err)
    except BaseException:
        result = ("crash", traceback.format_exc())
    try:
        conn.send(result)
    except Exception:  # a result or an exception that does not pickle
        conn.send(("error", DotationError(result[1].message)) if result[0] == "error"
                  else ("crash", traceback.format_exc()))
    conn.close()


class Background:
    """``func(*args)`` computed by a forked process while this one goes on; its result
    comes back pickled (:meth:`result`). Like a rendering worker, the process dies with
    this one, ignores Ctrl-C (this one handles it) and is killed by :meth:`close`. Use
    it as a context manager."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_background, args=(func, args, sender, os.getpid()), daemon=True)
        with _forking():
            self._process.start()
        sender.close()

    def result(self) -> tuple[bool, Any]:
        """Wait for the process; return ``(True, value)``, raise the user error
        (DotationError) it raised, or return ``(False, why)`` when it failed otherwise
        (a bug, killed, a result that does not pickle): the caller computes it itself."""
        try:
            kind, payload = self._receiver.recv()
        except Exception as err:  # EOFError: it died; an unpickling error
            return False, f"processus auxiliaire arrêté ({type(err).__name__})"
        finally:
            self.close()
        if kind == "error":
            raise payload
        return kind == "ok", payload

    def close(self) -> None:
        """Kill the process if it still runs, and reap it."""
        _reap([self._process])
        with contextlib.suppress(OSError):
            self._receiver.close()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _reaped(processes: list[multiprocessing.process.BaseProcess]) -> Iterator[None]:
    """Kill and reap every worker still alive when the block ends, however it ends
    (an error, Ctrl-C, SIGTERM turned into SystemExit)."""
    try:
        yield
    finally:
        _reap(processes)


def _reap(processes: list[multiprocessing.process.BaseProcess]) -> None:
    """Kill every process still alive, then wait for each."""
    for process in processes:
        if process.exitcode is None:
            with contextlib.suppress(OSError, ValueError):
                process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join()


_FROZEN = [0]  # how many long_lived() blocks are open


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Tell the garbage collector that what exists now lives until the block ends
    (:func:`gc.freeze`): collections no longer walk it, and forked processes leave its
    pages shared. Blocks nest; the outermost hands everything back on leaving."""
    gc.freeze()
    _FROZEN[0] += 1
    try:
        yield
    finally:
        _FROZEN[0] -= 1
        if not _FROZEN[0]:
            gc.unfreeze()
