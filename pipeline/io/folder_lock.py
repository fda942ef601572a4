"""One run per output folder: an OS-level lock held for the whole run.

Two runs writing into one folder would destroy each other's output (and a ``--restart`` would
delete the other run's work folder under it). A run therefore takes an exclusive, non-blocking
``flock`` on ``OUT/.stylevid.lock`` before it changes anything in the folder, and writes its PID
into the file so that a second run can say who holds it. The lock file sits beside ``.work/``,
not in it, so that ``--restart`` (which deletes ``.work/``) and image runs (which have no
``.work/``) are covered too. The file stays after the run (deleting a lock file races with a
run that has just opened it); it is the lock, not the file, that counts.

The operating system drops the lock when the process ends, however it ends: a lock left by a
killed run is no obstacle. Where ``fcntl`` is missing (Windows) or the filesystem refuses
``flock``, runs go unlocked rather than fail.

Within one process the lock is re-entrant: a job that holds a folder may call another job that
writes into the same folder.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StylevidError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs go unlocked
    fcntl = None  # type: ignore[assignment]

#: Name of the lock file inside the output folder.
LOCK_NAME = ".stylevid.lock"

# folder (resolved) → [file descriptor or None when unlocked, holders]: re-entrant within a process
_held: dict[Path, list] = {}


@contextmanager
def output_folder_lock(out_dir: Path) -> Iterator[None]:
    """Hold the output folder ``out_dir`` (which must exist) for the ``with`` block.

    Raises :class:`~stylevid.pipeline.errors.StylevidError` (one line, exit 2) when another
    process holds it, naming that process's PID.
    """
    key = Path(out_dir).resolve()
    if key in _held:
        _held[key][1] += 1
    else:
        _held[key] = [_acquire(Path(out_dir)), 1]
    try:
        yield
    finally:
        _held[key][1] -= 1
        if _held[key][1] == 0:
            descriptor = _held.pop(key)[0]
            if descriptor is not None:
                os.close(descriptor)  # closing the last descriptor releases the lock


def lock_holder(out_dir: Path) -> int | None:
    """The PID written into ``out_dir``'s lock file (None when missing or unreadable)."""
    try:
        text = (Path(out_dir) / LOCK_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _acquire(out_dir: Path) -> int | None:
    """Open and lock the lock file; return its descriptor (None when locking is unavailable here)."""
    if fcntl is None:
        return None
    path = out_dir / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise StylevidError(f"cannot create the lock file {path}: {error.strerror or error}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(descriptor)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            holder = lock_holder(out_dir)
            who = f"another run (PID {holder})" if holder is not None else "another run"
            raise StylevidError(
                f"{who} is writing to {out_dir}; wait for it to finish or choose another --output"
            ) from None
        return None  # a filesystem without flock (ENOLCK, EOPNOTSUPP …): run unlocked
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode("ascii"))
    return descriptor
