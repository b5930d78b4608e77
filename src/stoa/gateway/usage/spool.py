"""A bounded, append-only on-disk queue of usage batches, one per gateway worker.

Layout: `<root>/worker-<n>/` holds a `lock` file and segment files `<seq>.seg`, numbered
in write order. A segment is a run of records, each `length (4 bytes, big endian) |
CRC-32 of the payload (4 bytes) | payload` (the encoded batch). Appends go to the newest
segment and are fsynced before `append` returns, so a batch that was appended survives
SIGKILL and power loss.

Records are read oldest first and removed (`pop`) once delivered: a segment is deleted
when all its records are. Segments found at start are only read, never appended to, so a
torn record at the end of one (a crash in the middle of a write) is skipped and counted
instead of being written after.

The bound (`max_bytes`, on the total size of the segment files) is enforced by refusing
new batches: what is queued stays queued and is delivered in order, what comes while the
spool is full is dropped (and counted by the caller). Keeping the oldest rather than the
newest means an outage longer than the spool holds loses its end, not its beginning.

Every directory is claimed with an exclusive `flock` on its `lock` file, which the kernel
releases when the process dies however it dies: each worker writes its own directory,
a restarted worker takes over the one its predecessor left, and a directory nobody
holds (after the worker count went down) can be claimed and emptied by anyone.

Not thread-safe: one caller at a time (the shipper serializes calls).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import zlib
from pathlib import Path

_HEADER = struct.Struct(">II")
SEGMENT_BYTES = 1024 * 1024  # a new segment is started past this size
_SUFFIX = ".seg"


class SpoolLocked(Exception):
    """Another live process holds this spool directory."""


class Spool:
    """The queue in one directory. Open with `claim` or `claim_free`."""

    def __init__(self, directory: Path, max_bytes: int, lock_fd: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock_fd = lock_fd
        self._segments: list[int] = sorted(
            int(path.stem) for path in directory.glob(f"*{_SUFFIX}") if path.stem.isdigit()
        )
        self._sizes = {seq: self._path(seq).stat().st_size for seq in self._segments}
        self._active: int | None = None  # the segment appended to, created by us
        self._active_fd: int | None = None
        self._read_seq: int | None = self._segments[0] if self._segments else None
        self._read_offset = 0
        self.corrupt_records = 0  # torn or damaged records skipped so far

    @classmethod
    def claim(cls, directory: Path, max_bytes: int) -> Spool:
        """Lock and open `directory` (created if needed), or raise `SpoolLocked`."""
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise SpoolLocked(str(directory)) from exc
        return cls(directory, max_bytes, fd)

    @classmethod
    def claim_free(cls, root: Path, max_bytes: int) -> Spool:
        """The first `worker-<n>` directory under `root` that no live process holds."""
        index = 0
        while True:
            try:
                return cls.claim(root / f"worker-{index}", max_bytes)
            except SpoolLocked:
                index += 1

    def close(self) -> None:
        """Close the files and release the directory (what is queued stays on disk)."""
        if self._active_fd is not None:
            os.close(self._active_fd)
            self._active_fd = None
        os.close(self._lock_fd)  # releases the flock

    @property
    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def empty(self) -> bool:
        return self._next_readable() is None

    def append(self, payload: bytes) -> bool:
        """Queue `payload` durably; False (and nothing written) if the bound would be
        exceeded. `OSError` when the disk refuses (nothing is left half-written)."""
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        if self.size_bytes + len(record) > self.max_bytes:
            return False
        if self._active is None or self._sizes[self._active] >= SEGMENT_BYTES:
            self._start_segment()
        assert self._active is not None
        assert self._active_fd is not None
        before = self._sizes[self._active]
        try:
            written = os.write(self._active_fd, record)
            if written != len(record):
                raise OSError(f"short write ({written} of {len(record)} bytes)")
            os.fsync(self._active_fd)
        except OSError:
            # Disk full or failing: leave no torn record for later appends to follow.
            with contextlib.suppress(OSError):
                os.ftruncate(self._active_fd, before)
            raise
        self._sizes[self._active] = before + len(record)
        return True

    def peek(self) -> bytes | None:
        """The oldest queued payload, or None when there is none."""
        while True:
            position = self._next_readable()
            if position is None:
                return None
            seq, offset = position
            payload = self._read_at(seq, offset)
            if payload is not None:
                return payload
            # A torn or damaged record: the rest of this segment cannot be framed.
            self.corrupt_records += 1
            self._finish_segment(seq)

    def pop(self) -> None:
        """Remove the payload `peek` returned (it was delivered)."""
        position = self._next_readable()
        if position is None:
            return
        seq, offset = position
        with open(self._path(seq), "rb") as handle:
            handle.seek(offset)
            length, _ = _HEADER.unpack(handle.read(_HEADER.size))
        self._read_offset = offset + _HEADER.size + length
        if self._read_offset >= self._sizes[seq]:
            self._finish_segment(seq)

    def _next_readable(self) -> tuple[int, int] | None:
        while self._read_seq is not None:
            seq = self._read_seq
            if self._read_offset < self._sizes[seq]:
                return seq, self._read_offset
            if seq == self._active:
                return None  # everything written so far was read
            self._finish_segment(seq)
        return None

    def _read_at(self, seq: int, offset: int) -> bytes | None:
        with open(self._path(seq), "rb") as handle:
            handle.seek(offset)
            header = handle.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return None
            length, checksum = _HEADER.unpack(header)
            payload = handle.read(length)
        if len(payload) < length or zlib.crc32(payload) != checksum:
            return None
        return payload

    def _finish_segment(self, seq: int) -> None:
        """Delete a fully read segment and move the read position to the next one."""
        if seq == self._active:
            assert self._active_fd is not None
            os.close(self._active_fd)
            self._active, self._active_fd = None, None
        with contextlib.suppress(FileNotFoundError):
            self._path(seq).unlink()
        self._segments.remove(seq)
        del self._sizes[seq]
        self._read_seq = self._segments[0] if self._segments else None
        self._read_offset = 0

    def _start_segment(self) -> None:
        if self._active_fd is not None:
            os.close(self._active_fd)
        seq = (self._segments[-1] + 1) if self._segments else 1
        path = self._path(seq)
        self._active_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # The new name must survive a crash too, not only the bytes written to it.
        directory_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
        self._active = seq
        self._segments.append(seq)
        self._sizes[seq] = 0
        if self._read_seq is None:
            self._read_seq, self._read_offset = seq, 0

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}{_SUFFIX}"
