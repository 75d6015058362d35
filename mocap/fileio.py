"""Atomic output files: write to a temporary file beside the target, then rename.

A crash, a full disk or Ctrl-C never leaves a half-written output, and an
existing file at the target stays untouched until the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (before hours of work) if ``path`` cannot be written.

    Returns the path as an absolute :class:`Path`.
    """
    path = Path(path).expanduser().absolute()
    parent = path.parent
    if path.is_dir():
        raise OutputError(f"{path}: is a directory, expected an output file name")
    if not parent.is_dir():
        raise OutputError(f"{path}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{path}: existing file is not writable")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``path`` on success.

    The temporary name keeps the target's suffix, because some writers (Blender's
    exporters) choose the format from it. On any exception the temporary file is
    removed and the exception propagates.
    """
    path = check_writable(path)
    try:  # the folder can still refuse new files (read-only mount, root on a special fs)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not tmp_path.exists() or tmp_path.stat().st_size == 0:
            raise OutputError(f"{path}: writer produced no data")
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_npz(path: str | os.PathLike, arrays: dict) -> None:
    """``np.savez_compressed`` streamed: each array goes into its zip member a block of rows
    at a time (numpy's writer first copies a whole array into one bytes object, and the
    compressed copy beside it, which on a long clip is several times the array).

    Args:
        path: the file to write (give the temporary of :func:`atomic_output`).
        arrays: name -> array (no object arrays); read back by ``np.load`` as usual.
    """
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, value in arrays.items():
            a = np.asanyarray(value)
            header = {"descr": np.lib.format.dtype_to_descr(a.dtype), "fortran_order": False, "shape": a.shape}
            with z.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_2_0(member, header)
                if a.ndim == 0 or a.size == 0:
                    member.write(a.tobytes())
                    continue
                rows = max(1, (1 << 22) // max(1, a[0].nbytes))  # 4 MiB blocks
                for start in range(0, len(a), rows):
                    member.write(a[start : start + rows].tobytes())
