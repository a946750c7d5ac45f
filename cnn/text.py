"""Text from files, made safe to print: control characters escaped.

A weights file's metadata, a model string in a file, an image's file name: whatever a file
holds reaches the terminal when it is printed. Raw, an escape sequence in it acts on the
terminal (``\\x1b[2J`` clears the screen, ``\\x1b]0;...\\x07`` sets the window title, a
right-to-left override ``\\u202e`` reverses what follows). :func:`printable` writes each such
character as its Python escape instead, so the line shows what the file holds.
"""

from __future__ import annotations

import unicodedata

# Unicode's bidirectional embedding, override and isolate controls (format characters, Cf,
# that reorder the text after them on screen).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, limit: int | None = None) -> str:
    """``str(text)`` with every control character (C0 and C1 controls, DEL, newlines and tabs
    included, and the bidirectional controls) written as its escape, e.g. ``\\x1b``,
    ``\\u202e``; lone surrogates (undecodable bytes) as ``\\udcff``.

    Args:
        text: anything; ``str()`` of it is escaped.
        limit: cut to this many characters (before escaping), adding ``...`` and the
            length; ``None``: no cut.
    Returns:
        one line of text safe to print.
    """
    s = str(text)
    cut = ""
    if limit is not None and len(s) > limit:
        s, cut = s[:limit], f"... ({len(str(text)):,} characters)"
    return "".join(_escape(ch) if unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS
                   else ch for ch in s) + cut
