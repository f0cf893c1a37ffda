"""One writer per run directory: a lock file holding the writer's process id.

A second process is refused with a message; a lock left by a process that no longer
exists (killed, crashed) is detected and taken over. Where the OS has `flock` (Linux,
macOS) the kernel holds the lock and drops it when its process dies, so a stale file is
never mistaken for a live one (even when its pid has been reused) and two processes
taking over the same stale lock cannot both win; elsewhere the pid alone decides.
"""

from __future__ import annotations

import os
from pathlib import Path

from l2advisor.errors import InputError
from l2advisor.runs.store import make_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
_HELD: set[int] = set()  # flocked descriptors of this process


def _close_in_child() -> None:
    """A forked child (a DataLoader worker) must not keep the lock alive after its parent died."""
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def running_holder(run_dir: Path) -> int | None:
    """The pid of another live process holding `run_dir` (a probe still running), else None."""
    holder = RunLock(run_dir)._holder()
    return holder if holder is not None and holder != os.getpid() and _alive(holder) else None


class RunLock:
    """`with RunLock(run_dir):` holds the directory for this process."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.stale_taken_over: int | None = None  # pid of a dead holder we replaced
        self._fd: int | None = None  # the flocked lock file, while held

    def acquire(self) -> None:
        make_dir(self.path.parent)
        if fcntl is not None:
            return self._acquire_flock()
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and holder != os.getpid() and _alive(holder):
                    raise self._in_use(holder) from None
                self.stale_taken_over = holder
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return
        raise InputError(f"Could not take the lock {self.path}.")

    def _acquire_flock(self) -> None:
        for _ in range(10):  # retried only when a releasing holder removed the file under us
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._in_use(self._holder()) from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:
                os.close(fd)
                continue
            previous = os.read(fd, 64).decode(errors="replace").strip()
            if previous.isdigit() and int(previous) != os.getpid():
                self.stale_taken_over = int(previous)  # its process died without releasing
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            self._fd = fd
            _HELD.add(fd)
            return
        raise InputError(f"Could not take the lock {self.path}.")

    def _in_use(self, holder: int | None) -> InputError:
        who = f" (pid {holder})" if holder else ""
        return InputError(f"{self.path.parent} is in use by another l2advisor process{who}; "
                          "wait for it to finish, or use --out for another directory.")

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip() or "0") or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still locked: a waiter then retries on a new file
            _HELD.discard(self._fd)
            os.close(self._fd)
            self._fd = None
        elif self._holder() == os.getpid():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
