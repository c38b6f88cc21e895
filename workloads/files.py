"""A user's files at the boundary: input read as text, output written, each failure one error that
names the path.

A file that is not text (a binary blob given as a topology, a spec or a CSV) and an output path
that cannot be written (a missing folder, a folder where a file is asked for, a file where a
folder is needed, a read-only place) become a `CodesignError` (or the subclass the caller names),
which the command line prints as one line.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workloads.errors import CodesignError


def read_text(path: str | Path, *, what: str, error: type[CodesignError] = CodesignError) -> str:
    """The text of `path` (UTF-8); an `error` naming the path when it is a binary file (bytes that
    are not UTF-8, or NUL bytes), a folder or unreadable. `what` says what the file should be
    ("a topology CSV")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (spreadsheet CSVs) is dropped
    except UnicodeDecodeError as cause:
        byte = cause.object[cause.start]
        raise error(
            f"{path}: not a text file (byte 0x{byte:02x} at offset {cause.start} is not UTF-8); "
            f"expected {what}"
        ) from None
    except OSError as cause:
        raise error(f"{path}: cannot read: {cause.strerror or cause}") from None
    if "\0" in text:
        raise error(f"{path}: not a text file (it holds NUL bytes); expected {what}")
    return text


def text_stream(path: str | Path, *, what: str, error: type[CodesignError] = CodesignError) -> io.StringIO:
    """`read_text` as a stream, for readers that take a file (`csv.reader`, `pandas.read_csv`)."""
    return io.StringIO(read_text(path, what=what, error=error), newline="")


@contextmanager
def writing(path: str | Path, *, option: str, error: type[CodesignError] = CodesignError) -> Iterator[Path]:
    """Around the code that writes `path` (a file or a folder that `option` names): an `OSError`
    it raises becomes one `error` naming the option, the path and why it cannot be written."""
    path = Path(path)
    try:
        yield path
    except OSError as cause:
        raise error(f"{option} {path}: cannot write: {_why(cause, path)}") from None


def write_text(
    path: str | Path, text: str, *, option: str, error: type[CodesignError] = CodesignError
) -> None:
    """Write `text` to `path`; an `error` naming `option` and the path when it cannot be written."""
    with writing(path, option=option, error=error) as target:
        target.write_text(text, encoding="utf-8")


def _why(cause: OSError, path: Path) -> str:
    """The reason, naming the part of the path in the way where the OS error does not."""
    blocking = next((part for part in reversed(path.parents) if part.exists() and not part.is_dir()), None)
    if blocking is not None:
        return f"{blocking} is a file, not a folder"
    if isinstance(cause, FileExistsError) and path.is_file():
        return "it is a file, not a folder"
    if isinstance(cause, IsADirectoryError):
        return "it is a folder, not a file"
    missing = [part for part in path.parents if not part.exists()]
    if isinstance(cause, FileNotFoundError) and missing:
        return f"no folder {missing[-1]}"
    if isinstance(cause, FileNotFoundError):  # the folder is there but makes no files: /proc, /sys
        return f"{path.parent} takes no new files ({cause.strerror})"
    return cause.strerror or str(cause)
