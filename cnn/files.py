"""Files written safely: atomic replacement and free names, so nothing a user had is lost."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def free_path(path: str | os.PathLike) -> Path:
    """``path`` if no file is there, else the first free ``<stem>_1<suffix>``, ``_2``, ..."""
    path = Path(path)
    if not path.exists():
        return path
    n = 1
    while (candidate := path.with_name(f"{path.stem}_{n}{path.suffix}")).exists():
        n += 1
    return candidate


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write, overwrite: bool = True) -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then move it into place,
    so a crash never leaves a half-written file under ``path``.

    The file gets the usual permissions (``0o666`` minus the umask, not ``mkstemp``'s 0600).
    With ``overwrite=False`` the move is a hard link, which fails rather than replace a file
    that appeared meanwhile; the next free name (``free_path``) is taken instead.

    Returns:
        the path written (``path`` itself unless ``overwrite=False`` and it was taken).
    Raises:
        OSError: when the folder cannot be created or written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, path)
            return path
        while True:
            path = free_path(path)
            try:
                os.link(tmp, path)
                break
            except FileExistsError:
                continue
            except OSError:  # file systems without hard links: best effort
                if path.exists():
                    continue
                os.replace(tmp, path)
                return path
        os.unlink(tmp)
        return path
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
