"""The one exception type the command line turns into a single error line.

Library code raises :class:`UserError` (a ``ValueError``) for anything the user can fix: a
malformed model string, a weights file that does not fit, an unreadable image, a missing
folder. ``cnn.cli`` prints ``cnn: error: <message>`` and exits with status 2, with no
traceback (unless ``--debug``). Messages repeat the bad value and say what was expected.
"""


class UserError(ValueError):
    """Bad input from the user: the message is one line saying what was wrong and what to do."""
