"""The operating-system lock that makes one process a folder's live owner.

A run (or a sweep) holds an exclusive ``flock`` on a lock file in its folder for as long as it
runs. The kernel releases the lock when the process ends, however it ends (``kill -9``, a crash,
a power cut of the node), so a held lock always means a live owner and a free one means the
owner is gone, without any clean-up by the owner. Beside it, an owner file (JSON: host, pid,
start time, job ids) says who holds it, for the messages that refuse a second process.

Locks held by this process are kept in ``_held`` by folder: a lock taken while Hydra resolves a
folder's name is the one the run then trains under, and ``release`` gives it back at the end of
the run (a notebook that trains twice into one folder takes it twice).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from seqnet.atomic import atomic_write

#: Locks this process holds: resolved folder -> open file descriptor of its lock file.
_held: dict[Path, int] = {}


def holds(folder: Path) -> bool:
    """Whether this process holds ``folder``'s lock (taken for the job that is starting)."""
    return folder.resolve() in _held


def try_lock(folder: Path, lock_name: str) -> bool:
    """Take ``folder``'s lock without waiting: True when taken (it is now this process's until
    ``release``), False when another live process (or this one, for another job) holds it.
    Raises OSError when the lock file cannot be created (a read-only or full folder)."""
    fd = os.open(folder / lock_name, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    _held[folder.resolve()] = fd
    return True


def is_locked(folder: Path, lock_name: str) -> bool:
    """Whether some live process holds ``folder``'s lock (tested without keeping it)."""
    try:
        fd = os.open(folder / lock_name, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock taken for the test
    return False


def release(folder: Path) -> None:
    """Give back ``folder``'s lock if this process holds it (a no-op otherwise)."""
    fd = _held.pop(folder.resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor of the lock releases it


def owner_record(**extra: Any) -> dict[str, Any]:
    """What an owner file says about this process."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "claimed": time.strftime("%Y-%m-%d %H:%M:%S"),
        **extra,
    }


def write_owner(folder: Path, owner_name: str, record: dict[str, Any]) -> None:
    with atomic_write(folder / owner_name) as f:
        f.write(json.dumps(record).encode())


def read_owner(folder: Path, owner_name: str) -> dict[str, Any]:
    """What the owner file says (empty for none, an older seqnet's, or an unreadable file)."""
    try:
        record = json.loads((folder / owner_name).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def describe_owner(record: dict[str, Any]) -> str:
    """``pid 123 on host h, started 2026-01-01 12:00:00`` (what is known of it)."""
    if not record:
        return "an unknown run: no readable owner file"
    return (
        f"pid {record.get('pid', '?')} on host {record.get('host', '?')}, started "
        f"{record.get('claimed', '?')}"
    )
