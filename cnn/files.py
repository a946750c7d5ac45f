"""Files the user gives and files we write: nothing blocks, nothing the user had is lost.

- :func:`regular_file` refuses anything that is not a regular file (a FIFO, a device, a
  socket) *before* opening it, so no read ever blocks on a special file.
- :func:`atomic_write` writes to a temporary file beside the target and moves it into place,
  so a crash or Ctrl-C never leaves a half-written file; with ``overwrite=False`` it never
  replaces a file that exists (it takes the next free name, :func:`free_path`).
- :func:`output_names` gives every input file its own output name (``a.jpg`` and ``a.png`` do
  not share ``a.png``); :func:`file_id` tells whether a target is one of the inputs (written
  with ``overwrite=False`` then, whatever ``--overwrite`` says).
- :func:`sigint_deferred` holds Ctrl-C back while a file is being saved: the save finishes,
  then the interrupt arrives.
- :func:`os_error_message` turns an ``OSError`` (read-only folder, a path that is a file, a full
  disk) into one line naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import threading
from pathlib import Path

from cnn.errors import UserError


def regular_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` as a ``Path`` if it names a regular file (symlinks followed), checked with
    ``os.stat`` only, so a FIFO or device is refused without ever being opened.

    Raises:
        UserError: empty path, no such file, a folder, or a special file (FIFO, device,
            socket), each with one line that says what to give instead.
    """
    name = os.fspath(path)
    if name == "":
        raise UserError(f"the {what} path is empty; give the path of a {what}")
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise UserError(f"{what} '{name}' not found; check the path") from None
    except OSError as e:
        raise UserError(f"cannot read {what} '{name}': {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{what} '{name}' is a folder; give a {what}")
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise UserError(f"{what} '{name}' is {kind}, not a regular file; give a {what}")
    return Path(name)


def is_regular_file(path: str | os.PathLike) -> bool:
    """True if ``path`` is a regular file (``os.stat``, never opened)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def free_path(path: str | os.PathLike) -> Path:
    """``path`` if nothing is there, else the first free ``<stem>_1<suffix>``, ``_2``, ..."""
    path = Path(path)
    if not os.path.lexists(path):
        return path
    n = 1
    while os.path.lexists(candidate := path.with_name(f"{path.stem}_{n}{path.suffix}")):
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
    that appeared meanwhile; the next free name (``free_path``) is taken instead. A folder
    is never replaced, whatever ``overwrite`` says.

    Returns:
        the path written (``path`` itself unless ``overwrite=False`` and it was taken).
    Raises:
        UserError: ``path`` is a folder.
        OSError: when the folder cannot be created or written (read-only, a full disk, a
            parent that is a file); :func:`os_error_message` makes one line of it.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"'{path}' is a folder; give a file path inside it, e.g. "
                        f"'{path / 'output'}'")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp",
                                   dir=path.parent)
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
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
                if os.path.lexists(path):
                    continue
                os.replace(tmp, path)
                return path
        os.unlink(tmp)
        return path
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, FileExistsError):
            # name the file the user asked for, not the temporary one (or none: a write()
            # that fails with ENOSPC carries no file name)
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise


@contextlib.contextmanager
def sigint_deferred():
    """Hold SIGINT (Ctrl-C) back for the duration of the block: a Ctrl-C pressed meanwhile is
    delivered, as ``KeyboardInterrupt`` (or to the handler that was in place), right after
    the block ends. Used around saves, so a finished epoch's weights always reach the disk.
    A no-op off the main thread.

    Two holds, because blocking the signal alone does not hold it: the kernel hands a signal
    that the main thread blocks to any other thread that does not (cnn's layer threads,
    BLAS's), and Python then raises ``KeyboardInterrupt`` in the main thread all the same. So
    the block runs under a handler that only records the signal (Python runs handlers in the
    main thread, whichever thread received it), and with SIGINT blocked in the main thread
    where ``signal.pthread_sigmask`` exists (no system call of the save is interrupted).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.getsignal(signal.SIGINT)  # None: set outside Python, left alone
    if previous is not None:
        signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    blocking = hasattr(signal, "pthread_sigmask")
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if blocking else None
    try:
        yield
    finally:
        if blocking:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # one held here goes to `held`
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            if held and callable(previous):
                previous(signal.SIGINT, None)  # Python's default raises KeyboardInterrupt
            elif held and previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def output_names(inputs: list[str | os.PathLike], suffix: str) -> list[str]:
    """One distinct output file name per input file: ``<stem><suffix>``, or, where two inputs
    share a stem (``a.jpg`` and ``a.png``, or ``x/a.png`` and ``y/a.png``),
    ``<stem>_<ext><suffix>`` and then ``_2``, ``_3``, ... in input order.

    Example: ``['a.jpg', 'a.png', 'b.png']`` with ``'.png'`` -> ``['a_jpg.png', 'a_png.png',
    'b.png']``.
    """
    stems = [Path(p).stem for p in inputs]
    names = []
    for p, stem in zip(inputs, stems):
        ext = Path(p).suffix.lstrip(".").lower()
        names.append(f"{stem}_{ext}" if stems.count(stem) > 1 and ext else stem)
    out, used = [], set()
    for name in names:
        candidate, n = name, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate.lower())
        out.append(candidate + suffix)
    return out


def file_id(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(device, inode)`` of an existing file (symlinks followed), ``None`` if there is none:
    equal ids mean the same file under any name."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if both paths name the same existing file (``os.path.samefile``), else False."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def os_error_message(e: OSError, action: str = "write") -> str:
    """One line for an ``OSError``: ``cannot write '<path>': <reason>; <what to do>``."""
    target = e.filename if e.filename is not None else "the file"
    reason = e.strerror or str(e)
    hint = {
        errno.ENOSPC: "free some space or choose another folder",
        errno.EDQUOT: "free some space or choose another folder",
        errno.EACCES: "choose a folder you can write to",
        errno.EPERM: "choose a folder you can write to",
        errno.EROFS: "choose a folder on a writable disk",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
        errno.EISDIR: "it is a folder; give a file path",
    }.get(e.errno, "check the path")
    return f"cannot {action} '{target}': {reason}; {hint}"
