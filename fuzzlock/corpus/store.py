"""The corpus on disk: where an entry goes (``entry_path``) and how it gets there
(``save_entry``, ``write_entry``): atomically, never overwriting another file
(docs/design.md#corpus)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path

import attrs

from fuzzlock.corpus import CorpusWriteError, Entry, entry_digest, entry_from_json, protocol_dir

__all__ = ["Saved", "entry_path", "save_entry", "write_entry"]


def entry_path(root: str | os.PathLike[str], entry: Entry) -> Path:
    """``root/<protocol dir>/<entry digest>.json``: where ``save_entry`` puts ``entry``
    unless another file already holds that name."""
    return Path(root) / protocol_dir(entry.protocol) / f"{entry_digest(entry)}.json"


@attrs.frozen
class Saved:
    """What ``save_entry`` did: ``path`` holds the entry; ``written`` is False if an
    identical entry (same ``entry_digest``) was already there (it is left as it is, note
    and all); ``kept`` are the files that hold something else under the entry's name (each
    left untouched, the entry went to the next free name)."""

    path: Path
    written: bool
    kept: tuple[Path, ...] = ()

    @property
    def message(self) -> str:
        """One line for the user."""
        what = f"saved to {self.path}" if self.written else f"already in the corpus: {self.path}"
        if not self.kept:
            return what
        others = ", ".join(str(p) for p in self.kept)
        return f"{what} ({others}: a different entry under the same name, kept)"


#: How many ``<digest>-N.json`` names ``save_entry`` tries after ``<digest>.json``.
MAX_ALTERNATES = 100


def _same_entry(path: Path, data: bytes, digest: str) -> bool | None:
    """None if ``path`` does not exist; True if it holds the entry whose text is ``data``
    and digest is ``digest`` (byte for byte, or any valid entry with that digest); False
    if it holds anything else (another entry, a malformed file, a directory)."""
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return False if path.exists() or path.is_symlink() else None
    if old == data:
        return True
    try:
        other = entry_from_json(json.loads(old.decode("utf-8")), os.fspath(path))
    except (ValueError, RecursionError):  # CorpusError, JSONDecodeError, UnicodeDecodeError
        return False
    return entry_digest(other) == digest


def _temp_file(d: Path, stem: str, data: bytes) -> str:
    """A new temp file in ``d`` holding ``data``, flushed to disk.  Its name does not end
    in .json, so a reader scanning the directory never sees a half-written entry."""
    fd, tmp = tempfile.mkstemp(prefix=f".{stem[:16]}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _publish(tmp: str, path: Path) -> bool:
    """Give the complete file ``tmp`` the name ``path`` unless ``path`` exists (then
    False).  A hard link is atomic and never replaces; where the file system has no hard
    links, an exclusively created placeholder is atomically replaced instead."""
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    os.replace(tmp, path)
    return True


def save_entry(root: str | os.PathLike[str], entry: Entry) -> Saved:
    """Save ``entry`` under ``root/<protocol dir>/`` atomically; never overwrite a file.

    The name is ``<entry digest>.json``; if a file holds that name with a different
    entry (hand-edited, say) it is kept and ``<entry digest>-2.json`` (-3, ...) is tried.
    An identical entry already there is not written again.  Raises ``CorpusWriteError``
    (one line) if the directory cannot be made or written."""
    d = Path(root) / protocol_dir(entry.protocol)
    digest = entry_digest(entry)
    data = entry.dumps().encode("utf-8")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CorpusWriteError(d, "not a directory") from None
    except OSError as e:
        raise CorpusWriteError(d if Path(root).is_dir() else root, e) from None
    if not d.is_dir():
        raise CorpusWriteError(d, "not a directory")
    kept: list[Path] = []
    tmp: str | None = None
    try:
        for n in range(1, MAX_ALTERNATES + 2):
            path = d / (f"{digest}.json" if n == 1 else f"{digest}-{n}.json")
            while True:
                same = _same_entry(path, data, digest)
                if same is True:
                    return Saved(path, False, tuple(kept))
                if same is False:
                    kept.append(path)
                    break
                if tmp is None:
                    tmp = _temp_file(d, digest, data)
                if _publish(tmp, path):
                    return Saved(path, True, tuple(kept))
                # another writer took the name meanwhile: look at what it wrote
        raise CorpusWriteError(d, f"{len(kept)} files already hold other entries named {digest}")
    except OSError as e:
        raise CorpusWriteError(d, e) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_entry(root: str | os.PathLike[str], entry: Entry) -> Path:
    """``save_entry(root, entry).path``: the file written, or the existing identical one.
    Raises ``CorpusWriteError`` (a ``CorpusError``, one line) when it cannot write."""
    return save_entry(root, entry).path


def _replace_file(path: Path, data: bytes) -> None:
    """Atomically make ``path`` hold ``data`` (temp file in its directory, os.replace)."""
    tmp = _temp_file(path.parent, path.stem, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
