"""Lock objects of the simulated kernel: mutex-like locks and rw-semaphores.

The locks hold only their state; the scheduler implements acquisition, blocking
and the writer-waiting rule (``fuzzlock.sched.scheduler``).  ``cls`` is the
lockdep class (``folio_lock``, ``anon_vma->rwsem``, ``ptl`` ...): the lock-order
checker works on classes, not instances, as lockdep does.
"""

from __future__ import annotations


class Lock:
    """A one-holder lock.  ``sleeps`` tells a sleeping lock (folio lock, mutex) from a
    spinlock (PTL, ``page_table_lock``): holding a spinlock makes the thread atomic."""

    __slots__ = ("cls", "name", "owner", "sleeps")

    def __init__(self, name: str, cls: str, sleeps: bool) -> None:
        self.name = name
        self.cls = cls
        self.sleeps = sleeps
        self.owner: int | None = None

    def is_free(self) -> bool:
        return self.owner is None

    def __repr__(self) -> str:
        return f"Lock({self.name}, owner={self.owner})"


class RWSem:
    """A reader/writer semaphore (anon_vma root rwsem, mmap_lock, per-VMA lock,
    uffd ``map_changing_lock``).  It always sleeps.

    ``readers`` maps a thread id to its read-hold count.  ``pending_writers`` is the
    set of threads whose pending op is a blocking ``down_write`` on this rwsem.  Such a
    writer becomes *waiting* (``waiting_writers``) once it has found the rwsem taken,
    and stays waiting until it gets it: from then on new readers are refused, even after
    the last reader left, as the kernel's FIFO hand-off gives the lock to the queued
    writer.  A writer pending on a free rwsem is not waiting yet, so a reader may go
    first (and then the writer waits).
    """

    __slots__ = ("cls", "name", "pending_writers", "readers", "waiting_writers", "writer")

    sleeps = True

    def __init__(self, name: str, cls: str) -> None:
        self.name = name
        self.cls = cls
        self.readers: dict[int, int] = {}
        self.writer: int | None = None
        self.pending_writers: set[int] = set()
        self.waiting_writers: set[int] = set()

    def read_available(self) -> bool:
        """A read acquisition (blocking or try) succeeds now."""
        return self.writer is None and not self.waiting_writers

    def write_available(self) -> bool:
        return self.writer is None and not self.readers

    def is_free(self) -> bool:
        return self.writer is None and not self.readers

    def holders(self) -> list[int]:
        if self.writer is not None:
            return [self.writer]
        return sorted(self.readers)

    def __repr__(self) -> str:
        return f"RWSem({self.name}, writer={self.writer}, readers={self.readers})"
