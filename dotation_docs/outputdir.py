"""Output folder: its lock, and the crash-safe replacement of files under a journal.

A writing job holds :func:`locked` for its whole duration. On entry it repairs what an
interrupted run left behind (:func:`recover`). Files are replaced by :func:`replace_files`:

1. every new file is written to a hidden staging folder inside the output folder
   (:class:`Staging`; a run streams its documents there as they are rendered);
2. a journal listing every operation is written atomically (temporary file + rename);
3. with SIGINT/SIGTERM/SIGHUP deferred, each previous file is moved to a backup inside
   the staging folder and each new file moved into place; the last file moved is the
   manifest, and that rename is the commit point;
4. the journal is deleted, then the staging folder.

After a kill at any instant, :func:`recover` (run by the next writing command, under the
lock) either finishes the commit (the manifest in place is the new one) or puts every
backup back; both are idempotent, so a kill during recovery is repaired the same way.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from filelock import FileLock, Timeout

try:
    import fcntl
except ImportError:  # Windows: filelock locks otherwise; no early look
    fcntl = None  # type: ignore[assignment]

from dotation_docs.exceptions import OutputBusyError, OutputError, describe_os_error
from dotation_docs.timings import TIMINGS
from dotation_docs.workers import STOPPING_SIGNALS

log = logging.getLogger(__name__)

LOCK_NAME = ".dotation.lock"
JOURNAL_NAME = ".dotation-journal.json"
STAGING_PREFIX = ".dotation-staging-"
JOURNAL_TMP_NAME = JOURNAL_NAME + ".tmp"
# The hidden entries the tool leaves while it works, and only those, are its leftovers:
# a staging folder (``tempfile.mkdtemp`` suffix), older versions' ``.dotation-XXXXXXXX``
# folders, the journal's temporary file. Anything else named ``.dotation-…`` is the agent's.
WORK_PREFIX = ".dotation-"
_STAGING_NAME = re.compile(re.escape(STAGING_PREFIX) + r"[a-z0-9_]+")
_OLD_STAGING_NAME = re.compile(re.escape(WORK_PREFIX) + r"[a-z0-9_]{8}")
_STAGED_NAME = re.compile(r"r?[0-9]+")
JOURNAL_VERSION = 1


@dataclass
class Folder:
    """A locked output folder. ``repaired`` says, in French, what the recovery did to
    an interrupted run (None when there was nothing to repair)."""

    path: Path
    repaired: str | None = None


def _stat(output: Path) -> os.stat_result | None:
    """The status of the output folder (followed if it is a link), None when it does not
    exist; OutputError when it cannot be reached (a parent folder the user cannot enter)."""
    try:
        return os.stat(output)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(output):
            raise OutputError(
                f"« {output} » est un lien symbolique qui ne mène à aucun dossier existant : indiquez avec -o "
                "un dossier de sortie, ou recréez le dossier vers lequel il pointe."
            ) from None
        return None
    except OSError as err:
        raise OutputError(
            f"impossible d'accéder au dossier de sortie « {output} » : {describe_os_error(err)}."
        ) from err


def check_output_folder(output: Path) -> None:
    """Raise OutputError when ``output`` exists and is not a folder, or cannot be reached."""
    status = _stat(output)
    if status is not None and not stat.S_ISDIR(status.st_mode):
        raise OutputError(
            f"« {output} » est un fichier, pas un dossier : indiquez avec -o un dossier de sortie "
            "(il est créé s'il n'existe pas)."
        )


def _examine(root: Path, rel: str) -> tuple[str, str]:
    """Look at ``root/rel`` with ``lstat``, one component at a time from ``root`` down, and
    return what it is with the component concerned: ``absent`` (nothing to follow),
    ``file`` (a regular file reached through real folders only), ``link`` (a component
    or the entry is a symbolic link), ``blocked`` (a component above is not a folder),
    ``other`` (a folder or a special file), ``error`` (cannot be looked at)."""
    path = root
    parts = PurePosixPath(rel).parts
    for depth, part in enumerate(parts, start=1):
        path = path / part
        found = _look(path, PurePosixPath(*parts[:depth]).as_posix(), last=depth == len(parts))
        if found is not None:
            return found
    return "absent", rel


def _look(path: Path | str, shown: str, last: bool) -> tuple[str, str] | None:
    """What :func:`_examine` says of one component ``path`` (``shown``: its path relative
    to the output folder): None for a real folder on the way (``last`` False)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "absent", shown
    except OSError as err:
        return "error", describe_os_error(err)
    if stat.S_ISLNK(mode):
        return "link", shown
    if not last:
        return None if stat.S_ISDIR(mode) else ("blocked", shown)
    return ("file" if stat.S_ISREG(mode) else "other"), ("un dossier" if stat.S_ISDIR(mode) else "")


def target_problem(output: Path, rel: str) -> str | None:
    """Return why the tool must not write, replace or remove ``output/rel``, in French
    (None when it may): a folder on the way, or the entry itself, is a symbolic link (it
    could lead out of the output folder, so it is never followed), a component above is
    not a folder, or the entry is not a regular file (a folder, a named pipe…)."""
    return describe_target(rel, *_examine(output, rel))


def describe_target(rel: str, kind: str, detail: str) -> str | None:
    """The French reason of :func:`target_problem` for what :func:`_examine` found."""
    if kind == "link":
        return (f"« {rel} » est un lien symbolique" if detail == rel
                else f"« {rel} » passe par « {detail} », qui est un lien symbolique")
    if kind == "blocked":
        return f"« {rel} » passe par « {detail} », qui n'est pas un dossier"
    if kind == "other":
        return f"« {rel} » est {detail or 'un fichier spécial (tube, périphérique…)'}, pas un document"
    if kind == "error":
        return f"« {rel} » est inaccessible ({detail})"
    return None


def _parts(rel: str) -> tuple[str, ...]:
    """The components of ``rel`` as ``PurePosixPath(rel).parts`` gives them (split at once
    when ``rel`` has the usual form: no empty component, none ".", not absolute)."""
    parts = rel.split("/")
    if "" in parts or "." in parts:
        return PurePosixPath(rel).parts
    return tuple(parts)


class Survey:
    """What :func:`_examine` finds at many paths of one output folder, each folder on the
    way looked at once (a batch puts 1,000 files in ``conventions/``: one ``lstat`` of the
    folder, not 1,000). For one step of a run: the folder must not change meanwhile."""

    def __init__(self, root: Path) -> None:
        self.root = root
        base = os.fspath(root)
        self._prefix = base if base.endswith("/") else base + "/"
        # folder above an entry (relative path) → None when it is a real folder, else what stops there
        self._above: dict[str, tuple[str, str] | None] = {}

    def _look(self, shown: str, last: bool) -> tuple[str, str] | None:
        return _look(self._prefix + shown, shown, last)

    def examine(self, rel: str) -> tuple[str, str]:
        """What :func:`_examine` returns for ``rel``."""
        parts = rel.split("/")
        if "" in parts or "." in parts or ".." in parts:
            return _examine(self.root, rel)  # not a path the tool writes: the general walk
        shown = ""
        for part in parts[:-1]:
            shown = shown + "/" + part if shown else part
            try:
                stop = self._above[shown]
            except KeyError:
                stop = self._above[shown] = self._look(shown, last=False)
            if stop is not None:
                return stop
        found = self._look(rel, last=True)
        assert found is not None
        return found

    def problem(self, rel: str) -> str | None:
        """What :func:`target_problem` returns for ``rel``."""
        return describe_target(rel, *self.examine(rel))


@contextlib.contextmanager
def locked(output: Path) -> Iterator[Folder]:
    """Lock ``output`` (created if needed) for the duration of the block, after
    repairing an interrupted run. Raises OutputBusyError when another command holds
    the lock, OutputError when the folder cannot be created or locked. A folder this
    call created is removed again if it is still empty at the end."""
    check_output_folder(output)
    created = _stat(output) is None
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(
            f"impossible de créer le dossier de sortie « {output} » : {describe_os_error(err)}."
        ) from err
    try:
        lock = _acquire(output)
        try:
            folder = Folder(output, recover(output))
            yield folder
        finally:
            _release(lock, output)
    finally:
        if created:
            with contextlib.suppress(OSError):
                output.rmdir()  # only succeeds when nothing was written


def check_not_busy(output: Path) -> None:
    """Raise OutputBusyError when another command holds the lock of ``output`` now, so
    that the agent hears it at once rather than after the templates and the workbook
    are checked; :func:`locked` still decides. Nothing is created: without a lock file,
    no command holds the folder."""
    if fcntl is None:
        return
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)  # a FIFO does not wait
    try:
        fd = os.open(output / LOCK_NAME, flags)
    except OSError:
        return  # absent or not readable: locked() says what is wrong
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return  # not a lock file: locked() says what is wrong
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError as err:
        raise OutputBusyError(_busy(output)) from err
    except OSError:
        return
    finally:
        os.close(fd)  # releases the probe's shared lock


def _busy(output: Path) -> str:
    return (f"le dossier de sortie « {output} » est utilisé par une autre commande dotation en cours : "
            "attendez qu'elle se termine, puis relancez. Rien n'a été écrit.")


def _acquire(output: Path) -> FileLock:
    path = output / LOCK_NAME
    for _attempt in range(3):
        lock = FileLock(path, timeout=0)
        try:
            lock.acquire()
        except Timeout as err:
            raise OutputBusyError(_busy(output)) from err
        except OSError as err:
            if err.errno == errno.ELOOP and os.path.islink(path):  # filelock refuses to follow it
                raise OutputError(
                    f"impossible de verrouiller le dossier de sortie « {output} » : son fichier de verrou "
                    f"« {LOCK_NAME} » est un lien symbolique, que l'outil ne suit pas. Supprimez ce lien "
                    "(aucune commande dotation ne le crée), puis relancez."
                ) from err
            raise OutputError(
                f"impossible de verrouiller le dossier de sortie « {output} » : {describe_os_error(err)}."
            ) from err
        # The lock file is removed on release; a run that opened it just before that
        # holds a lock on a removed file: check that the path is still the locked file.
        fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
        try:
            same = fd is None or os.path.samestat(os.fstat(fd), os.stat(path))
        except OSError:
            same = False
        if same:
            return lock
        lock.release()
    raise OutputBusyError(
        f"le dossier de sortie « {output} » est utilisé par une autre commande dotation en cours : "
        "attendez qu'elle se termine, puis relancez. Rien n'a été écrit."
    )


def _release(lock: FileLock, output: Path) -> None:
    # Removed while still held, so that no other run can lock this file afterwards.
    with contextlib.suppress(OSError):
        (output / LOCK_NAME).unlink()
    lock.release()


# --- Signals ------------------------------------------------------------------------------



@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP for the duration of the block, then restore
    the previous handlers and deliver the first signal received, unless the block ends
    with an error: the command stops then anyway, and its French message must not give
    way to the signal's (outside the main thread, where handlers cannot be set, signals
    are left alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: received.append(signum)) for s in STOPPING_SIGNALS}

    def restore() -> None:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)

    try:
        yield
    except BaseException:
        restore()
        if received:
            log.info("signal %s reçu pendant la mise en place, qui s'arrête sur une erreur", received[0])
        raise
    restore()
    if received:
        log.info("signal %s reçu pendant la mise en place : traité maintenant", received[0])
        signal.raise_signal(received[0])


# --- Writing ------------------------------------------------------------------------------

#: The output folders whose new files this process has put in place, the manifest last: a
#: command stopped by a signal just after (one held back during the swap, see
#: :func:`deferred_signals`) says that the batch is complete, not merely « interrupted ».
COMMITTED: list[Path] = []


def _sha256_of(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file of the staging folder; made durable all at once, before the
    journal is written (:func:`_sync_staging`): one flush instead of one per document."""
    with path.open("wb") as f:
        f.write(data)


def _sync_staging(staging: Path, names: Sequence[str]) -> None:
    """Make the staged files durable: ``syncfs`` on the file system that holds them
    (Linux), else ``fsync`` of each file."""
    if sys.platform.startswith("linux"):
        fd = os.open(staging, os.O_RDONLY)
        try:
            if _libc().syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for name in names:
        fd = os.open(staging / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _write_journal(output: Path, journal: dict[str, Any]) -> None:
    tmp = output / JOURNAL_TMP_NAME
    # Compact: json's C encoder (``indent`` takes the pure-Python one, 10 times slower).
    _write_file(tmp, json.dumps(journal, ensure_ascii=True).encode("ascii"))
    os.replace(tmp, output / JOURNAL_NAME)
    _fsync_dir(output)


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


@dataclass(frozen=True)
class Staged:
    """A new file already written into a staging folder: its name there (``new/<n>``)
    and the SHA-256 of its bytes."""

    name: str
    sha256: str


@dataclass(frozen=True)
class InPlace:
    """A new file not written at all: the previous manifest lists these very bytes (SHA-256
    ``sha256``) at its path. If the file there still holds them, it stays as it is (no
    file created, moved or deleted); otherwise the run writes it after all (see
    :func:`dotation_docs.writers.write_batch`)."""

    sha256: str


def write_staged(output: Path, staging: Path, index: int, data: bytes, sha256: str | None = None) -> Staged:
    """Write ``data`` (whose SHA-256 is ``sha256`` when already known) as the ``index``-th
    new file of the staging folder ``staging`` of ``output`` (safe from a worker process:
    each index is written by one process only). Raises OutputError; nothing of the output
    folder itself has changed then."""
    name = f"new/{index}"
    try:
        _write_new(staging / name, data)
    except OSError as err:
        raise OutputError(
            f"écriture impossible dans « {output} » : {describe_os_error(err)}. "
            "Rien n'a été modifié : le lot précédent est conservé."
        ) from err
    return Staged(name, sha256 or hashlib.sha256(data).hexdigest())


# ``FS_IOC_GETFLAGS``, ``FS_IOC_SETFLAGS`` and ``FS_TOPDIR_FL`` of <linux/fs.h>.
_GET_FLAGS, _SET_FLAGS, _TOPDIR = 0x80086601, 0x40086602, 0x00020000


def _spread_subfolders(folder: Path) -> None:
    """Ask ext4 to place the subfolders of ``folder`` (the staging folder) in another
    block group than their parent, as it does for the folders at the top of a tree
    (``chattr +T``). On ext4 without a journal, creating a file skips, one look-up each,
    every inode of its group deleted in the last minute (six while unwritten): the 1,900
    files of a batch made just after the 1,900 of the previous one were deleted, in the
    same group, took up to ten times as long. Only this hidden folder, removed at the end
    of the run, gets the flag; elsewhere (another file system, no permission) nothing
    changes."""
    if fcntl is None:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _GET_FLAGS, flags, True)
        if not flags[0] & _TOPDIR:
            flags[0] |= _TOPDIR
            fcntl.ioctl(fd, _SET_FLAGS, flags, True)
    except OSError:
        pass
    finally:
        os.close(fd)


class Staging:
    """The hidden staging folder of a run, inside the locked output folder: the new files
    are written into it as they are made (by this process or by worker processes), then
    :func:`replace_files` puts them in place. Used as a context manager: on leaving, the
    folder is removed unless a journal took it over (an interrupted swap is then
    repaired by the next command). Raises OutputError when it cannot be created."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.committed = False
        self._next = 0
        try:
            self.path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=output))
        except OSError as err:
            raise OutputError(f"écriture impossible dans « {output} » : {describe_os_error(err)}. "
                              "Rien n'a été écrit.") from err
        try:
            _spread_subfolders(self.path)
            (self.path / "new").mkdir()
            (self.path / "old").mkdir()
        except OSError as err:
            self.discard()
            raise OutputError(
                f"écriture impossible dans « {output} » : {describe_os_error(err)}. "
                "Rien n'a été modifié : le lot précédent est conservé."
            ) from err
        except BaseException:  # a signal turned into an exception: nothing left behind either
            self.discard()
            raise

    def reserve(self, count: int) -> int:
        """Return the first of ``count`` new file numbers, for this run's use only."""
        first = self._next
        self._next += count
        return first

    def write(self, data: bytes, index: int | None = None) -> Staged:
        """Write one new file (at a number of :meth:`reserve`, or the next free one)."""
        return write_staged(self.output, self.path, self.reserve(1) if index is None else index, data)

    def file(self, staged: Staged) -> Path:
        """Where a staged file waits."""
        return self.path / staged.name

    def discard(self) -> None:
        """Remove the staging folder, unless a journal took it over."""
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()


def replace_files(output: Path, writes: Sequence[tuple[str, bytes | Staged]], removals: Sequence[str],
                  staging: Staging | None = None) -> None:
    """Put ``writes`` (relative POSIX path, bytes or a file already written into
    ``staging``) in place and delete ``removals``, all or nothing. The last write is the
    commit point: it must be the manifest. Must be called under :func:`locked`. Raises
    OutputError; the previous files are then in place (or put back by the next command,
    as the message says), and the staging folder is removed."""
    if not writes:
        raise ValueError("replace_files needs at least the manifest")
    if staging is None and any(isinstance(data, Staged) for _rel, data in writes):
        raise ValueError("staged files need their staging folder")
    survey = Survey(output)
    found = {rel: survey.examine(rel) for rel in [*(rel for rel, _data in writes), *removals]}
    problems = [p for p in (describe_target(rel, *found[rel]) for rel, _data in writes) if p]
    problems += [p for p in (describe_target(rel, *found[rel]) for rel in removals) if p]
    if problems:
        if staging is not None:
            staging.discard()
        raise OutputError(
            f"l'outil n'écrit ni ne supprime rien dans « {output} » à travers un lien ou à la place d'un dossier : "
            + " ; ".join(problems) + ". Rien n'a été écrit."
        )
    staging = staging or Staging(output)
    created_dirs: list[str] = []
    journal_written = False
    try:
        staged = [data if isinstance(data, Staged) else staging.write(data) for _rel, data in writes]
        try:
            created_dirs += _make_parents(output, [rel for rel, _data in writes])
        except OSError as err:
            raise OutputError(
                f"écriture impossible dans « {output} » : {describe_os_error(err)}. "
                "Rien n'a été modifié : le lot précédent est conservé."
            ) from err
        # What stands at each path: as surveyed (nothing but folders was made since), a folder
        # just made at a path to write included.
        made = set(created_dirs)

        def existed(rel: str) -> bool:
            return found[rel][0] != "absent" or rel in made

        operations = [
            {"target": rel, "new": new.name, "backup": f"old/{i}", "existed": existed(rel)}
            for i, ((rel, _data), new) in enumerate(zip(writes, staged, strict=True))
        ]
        # Removals first, then the writes, the manifest last (the commit point).
        operations = [
            {"target": rel, "new": None, "backup": f"old/r{i}", "existed": existed(rel)}
            for i, rel in enumerate(removals)
        ] + operations
        commit_target = writes[-1][0]
        journal = {
            "version": JOURNAL_VERSION,
            "staging": staging.path.name,
            "operations": operations,
            "created_dirs": created_dirs,
            "commit_target": commit_target,
            "commit_sha256": staged[-1].sha256,
            "previous_commit_sha256": _sha256_of(output / commit_target),
        }
        try:
            _sync_staging(staging.path, [new.name for new in staged])
        except OSError as err:
            raise OutputError(
                f"écriture impossible dans « {output} » : {describe_os_error(err)}. "
                "Rien n'a été modifié : le lot précédent est conservé."
            ) from err
        with deferred_signals():
            try:
                _write_journal(output, journal)
            except OSError as err:
                raise OutputError(
                    f"écriture impossible dans « {output} » : {describe_os_error(err)}. "
                    "Rien n'a été modifié : le lot précédent est conservé."
                ) from err
            journal_written = staging.committed = True
            try:
                root, folder = _slashed(output), _slashed(staging.path)
                for op in operations:
                    _apply(root, folder, op)
                _fsync_dir(output)
                COMMITTED.append(output)
            except OSError as err:
                try:
                    _rollback(output, staging.path, journal)
                    _finish(output, staging.path)
                except OSError:
                    raise OutputError(
                        f"écriture impossible dans « {output} » : {describe_os_error(err)}. La remise en place "
                        "du lot précédent a échoué aussi : relancez la commande, elle réparera le dossier."
                    ) from err
                raise OutputError(
                    f"écriture impossible dans « {output} » : {describe_os_error(err)}. "
                    "Le lot précédent a été remis en place."
                ) from err
            with TIMINGS.step("nettoyage"):  # after the commit: the previous files deleted
                _finish(output, staging.path)
        _remove_empty_parents(output, removals)
    finally:
        if not journal_written:
            staging.discard()
            for rel in reversed(created_dirs):
                with contextlib.suppress(OSError):
                    (output / rel).rmdir()


def _make_parents(output: Path, rels: Sequence[str]) -> list[str]:
    """Create the folders above each of ``rels``; return those created (relative,
    outermost first, in the order of ``rels``). Each folder is looked at once."""
    created: list[str] = []
    seen: set[str] = set()
    root = _slashed(output)
    for rel in rels:
        parts = _parts(rel)[:-1]
        sub = ""
        for part in parts:
            sub = f"{sub}/{part}" if sub else part
            if sub in seen:
                continue
            seen.add(sub)
            if not os.path.isdir(root + sub):
                os.mkdir(root + sub)
                created.append(sub)
    return created


def _slashed(folder: Path) -> str:
    """``folder`` as a string ending with "/", to put a relative path after it."""
    base = os.fspath(folder)
    return base if base.endswith("/") else base + "/"


def _apply(root: str, staging: str, op: dict[str, Any]) -> None:
    """Carry out one operation of the journal (``root`` and ``staging`` end with "/")."""
    target = root + op["target"]
    if op["existed"]:
        try:
            os.replace(target, staging + op["backup"])
        except (FileNotFoundError, NotADirectoryError):
            if _lexists(target):  # the backup could not be made: never replace without one
                raise
    if op["new"] is not None:
        os.replace(staging + op["new"], target)


def _finish(output: Path, staging: Path) -> None:
    """Forget the journal (the outcome is settled), then drop the staging folder."""
    with contextlib.suppress(FileNotFoundError):
        (output / JOURNAL_NAME).unlink()
    _fsync_dir(output)
    shutil.rmtree(staging, ignore_errors=True)


def _rollback(output: Path, staging: Path, journal: dict[str, Any]) -> None:
    """Put every backup back and remove the new files that had no previous version.
    Idempotent: a second call after an interruption does the rest."""
    for op in reversed(journal["operations"]):
        rel = _checked_relative(op["target"])
        if _examine(output, rel)[0] == "link":
            # A journal is the tool's, but a link may lead out of the output folder: never followed.
            log.warning("opération du journal ignorée (lien symbolique) : %s", rel)
            continue
        target = output / rel
        backup = staging / _checked_relative(op["backup"])
        if _lexists(backup):
            os.replace(backup, target)
        elif not op["existed"] and op["new"] is not None:
            staged = staging / _checked_relative(op["new"])
            if _examine(output, rel)[0] == "file" and not _lexists(staged):
                target.unlink()
    for rel in reversed(journal.get("created_dirs", [])):
        if _examine(output, _checked_relative(rel))[0] == "other":  # a real folder (rmdir: if empty)
            with contextlib.suppress(OSError):
                (output / rel).rmdir()


def _remove_empty_parents(output: Path, removals: Sequence[str]) -> None:
    for rel in removals:
        parent = (output / rel).parent
        while parent != output and output in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def _checked_relative(rel: object) -> str:
    """A path read from the journal: relative and inside its folder, or ValueError."""
    if not isinstance(rel, str) or not rel or "\\" in rel:
        raise ValueError(rel)
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts:
        raise ValueError(rel)
    return rel


# --- Recovery -----------------------------------------------------------------------------


def read_regular_file(path: Path, limit: int) -> bytes:
    """Return the bytes of ``path``, a regular file of at most ``limit`` bytes. Raises
    FileNotFoundError, OSError, and ValueError for anything else: a named pipe (opened
    without blocking, never read), a device such as ``/dev/zero`` (never read), a file too
    large to be one the tool wrote."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if info.st_size > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data


#: The journal lists one operation per file of a batch: far below this.
JOURNAL_MAX_BYTES = 256 * 1024 * 1024


def _read_journal(output: Path) -> dict[str, Any] | None:
    path = output / JOURNAL_NAME
    try:
        data = json.loads(read_regular_file(path, JOURNAL_MAX_BYTES))
        if not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION:
            raise ValueError("unknown journal")
        _checked_relative(data["staging"])
        if not _STAGING_NAME.fullmatch(data["staging"]):
            raise ValueError("staging outside the output folder")
        if _examine(output, data["staging"])[0] not in ("absent", "other"):
            raise ValueError("staging folder is a link or a file")
        for op in data["operations"]:
            _checked_relative(op["target"])
            _checked_relative(op["backup"])
            if op["new"] is not None:
                _checked_relative(op["new"])
        _checked_relative(data["commit_target"])
        return data
    except FileNotFoundError:
        return None
    except OSError as err:
        raise OutputError(
            f"le journal « {path} » d'un lancement interrompu est illisible : {describe_os_error(err)}."
        ) from err
    except (ValueError, KeyError, TypeError, RecursionError) as err:
        raise OutputError(
            f"le journal « {path} » d'un lancement interrompu est endommagé : le dossier ne peut pas être "
            "réparé automatiquement. Vérifiez les fichiers (les versions précédentes sont dans les dossiers "
            f"cachés « {WORK_PREFIX}… »), puis supprimez ce journal et relancez."
        ) from err


def _committed(output: Path, journal: dict[str, Any]) -> bool:
    """True when the commit point was passed: the manifest in place is the new one (and
    differs from the previous one, otherwise the two states cannot be told apart and
    putting the previous files back is just as right)."""
    current = _sha256_of(output / journal["commit_target"])
    return current == journal["commit_sha256"] and current != journal.get("previous_commit_sha256")


def recover(output: Path) -> str | None:
    """Finish or undo an interrupted replacement in ``output`` and remove the tool's
    leftovers. Call it under the lock. Returns a French note saying what was done, or
    None. Raises OutputError when the journal is damaged or a file cannot be moved back."""
    note = None
    journal = _read_journal(output)
    if journal is not None:
        staging = output / journal["staging"]
        with deferred_signals():
            try:
                if _committed(output, journal):
                    log.info("lancement interrompu après la mise en place : nettoyage")
                    note = "un lancement précédent avait été interrompu après la mise en place du nouveau lot : il a été terminé."
                else:
                    log.info("lancement interrompu pendant la mise en place : retour au lot précédent")
                    _rollback(output, staging, journal)
                    note = "un lancement précédent avait été interrompu : le lot d'avant a été remis en place."
                _finish(output, staging)
            except OSError as err:
                raise OutputError(
                    f"le dossier « {output} » contient un lancement interrompu qui ne peut pas être réparé : "
                    f"{describe_os_error(err)}. Corrigez ce problème, puis relancez."
                ) from err
    removed = []
    for leftover in _leftovers(output):
        log.info("suppression du reste d'un lancement interrompu : %s", leftover)
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                leftover.unlink()
        if not _lexists(leftover):
            removed.append(leftover.name)
    if removed:
        cleaned = f"les fichiers temporaires d'un lancement interrompu ont été supprimés ({', '.join(removed)})."
        note = f"{note[:-1]} ; {cleaned}" if note else cleaned
    return note


def _is_staging_layout(folder: Path, strict: bool) -> bool:
    """True when ``folder`` holds nothing but the tool's ``new``/``old`` folders (and, when
    ``strict``, only the numbered files the tool puts in them)."""
    try:
        top = list(os.scandir(folder))
        if any(e.name not in ("new", "old") or not e.is_dir(follow_symlinks=False) for e in top):
            return False
        if strict:
            for sub in top:
                if any(not _STAGED_NAME.fullmatch(e.name) or not e.is_file(follow_symlinks=False)
                       for e in os.scandir(sub.path)):
                    return False
    except OSError:
        return False
    return True


def _leftovers(output: Path) -> list[Path]:
    """The entries of ``output`` that an interrupted run of the tool left, and only those:
    a staging folder with the tool's layout, the journal's temporary file (a regular
    file). Anything else, even named ``.dotation-…``, is the agent's and stays."""
    try:
        entries = list(os.scandir(output))
    except OSError:
        return []
    found = []
    for e in entries:
        try:
            if e.name == JOURNAL_TMP_NAME:
                ours = e.is_file(follow_symlinks=False)
            elif _STAGING_NAME.fullmatch(e.name) or _OLD_STAGING_NAME.fullmatch(e.name):
                ours = e.is_dir(follow_symlinks=False) and _is_staging_layout(
                    Path(e.path), strict=bool(_STAGING_NAME.fullmatch(e.name)))
            else:
                ours = False
        except OSError:
            ours = False
        if ours:
            found.append(output / e.name)
    return sorted(found)


@dataclass
class Inspection:
    """State of an output folder, seen without changing it."""

    output: Path
    interrupted: bool = False
    leftovers: list[str] = field(default_factory=list)
    running: bool = False  # another command holds the folder's lock right now

    @property
    def clean(self) -> bool:
        """True when no interrupted run left anything."""
        return not self.interrupted and not self.leftovers

    def describe(self) -> str | None:
        """A French sentence for the user, or None when the folder is clean."""
        if self.running:
            return (
                f"une commande dotation est en train d'écrire dans « {self.output} » : ce qui est montré "
                "ici peut changer dès qu'elle se termine ; relancez alors cette commande."
            )
        if self.interrupted:
            return (
                f"un lancement interrompu a laissé le dossier « {self.output} » à réparer : la prochaine "
                "commande qui écrit (generer, convention ou demande) remettra en place un lot complet."
            )
        if self.leftovers:
            return (
                f"un lancement interrompu a laissé des fichiers temporaires dans « {self.output} » "
                f"({', '.join(self.leftovers)}) : la prochaine commande qui écrit les supprimera."
            )
        return None


def inspect(output: Path) -> Inspection:
    """Return the state of ``output`` without repairing or locking anything (for
    commands that only read). Raises nothing."""
    state = Inspection(output)
    try:
        if not stat.S_ISDIR(os.stat(output).st_mode):
            return state
    except OSError:
        return state
    state.running = _locked_by_another(output / LOCK_NAME)
    state.interrupted = _lexists(output / JOURNAL_NAME)
    state.leftovers = [p.name for p in _leftovers(output)]
    return state


def _locked_by_another(path: Path) -> bool:
    """True when a running command holds the lock file ``path`` (a shared lock cannot be
    taken on it). The lock file exists only while a command holds it, or after a killed
    one; it is opened read-only and never changed (nothing is written)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        import fcntl  # POSIX only, like filelock's own Unix lock
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except (ImportError, OSError):
        return False
    finally:
        os.close(fd)
