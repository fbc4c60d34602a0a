"""Files that keep the local runtime's state between runs (`make run PERSIST=1`).

Both kinds are written so that a stop of any kind, kill -9 included, leaves a readable file: once a
call here returns, what it wrote is the operating system's, and outlasts the process. (Nothing is
forced to the disk: a power cut may lose the last writes.)

- `write_atomically`: a whole file replaced at once (the old content or the new, never a mix).
- `JsonLines`: an append-only file of JSON records, one a line, each appended in one write; a
  line cut short by a kill is the last one, and is skipped when the file is read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOG = logging.getLogger("local_runtime.state_files")


def write_atomically(path: Path, text: str) -> None:
    """Replace `path`'s content with `text` in one step (a sibling temporary file, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


class JsonLines:
    """An append-only file of JSON records (see the module's doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None

    def read(self) -> list[dict[str, Any]]:
        """Every whole record in the file, in order."""
        if not self.path.exists():
            return []
        records = []
        for number, line in enumerate(self.path.read_bytes().splitlines(), start=1):
            try:
                record = json.loads(line)
            except ValueError:
                LOG.warning("%s: line %d is not a whole record (cut short by a stop?); skipped", self.path, number)
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append the records, all in one write."""
        data = b"".join(json.dumps(record, separators=(",", ":")).encode() + b"\n" for record in records)
        if not data:
            return
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the whole file with these records (to compact it)."""
        text = "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records)
        with self._lock:
            self._close()
            write_atomically(self.path, text)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
