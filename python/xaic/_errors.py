"""The exceptions of the xaic package: every one is an ``xaic.Error``.

Bad arguments found before a call are ``InputError`` (also a ``ValueError``; ``InputTypeError`` is also a
``TypeError``). A status returned by a generated entry becomes a ``StatusError`` subclass whose message ends with
libxairt's ``xai_status_string`` text. A ``.xai`` file with errors raises ``CompileError`` holding every
diagnostic the compiler printed.
"""

# The status codes of runtime/xairt.h (tests/python/test_errors.py checks them against the header).
XAI_OK = 0
XAI_ENULL = 1
XAI_EBATCH = 2
XAI_EALIGN = 3
XAI_ETARGET = 4
XAI_ENAN = 5
XAI_EWEIGHTS = 6
XAI_EIO = 7
XAI_EFORMAT = 8
XAI_EDTYPE = 9
XAI_ESHAPE = 10
XAI_ENOMEM = 11
XAI_EARG = 12
XAI_EDIVERGED = 13
XAI_ENONFINITE = 14
XAI_EWORKSPACE = 15

STATUS_NAMES = {v: k for k, v in globals().items() if k.startswith("XAI_")}


class Error(Exception):
    """Base class of every exception the xaic package raises."""


class CompilerNotFoundError(Error):
    """The xaic compiler was not found (XAIC_COMPILER, the build tree, PATH) or does not run."""


class CompileError(Error):
    """The compiler refused the input; ``diagnostics`` holds all it printed (file:line:col, source line, caret)."""

    def __init__(self, message, diagnostics="", command=None, returncode=None):
        text = message if not diagnostics else f"{message}\n{diagnostics.rstrip()}"
        super().__init__(text)
        self.diagnostics = diagnostics
        self.command = command
        self.returncode = returncode


class InputError(Error, ValueError):
    """An argument is wrong (shape, range, a setting the explanation does not take); found before any call."""


class InputTypeError(InputError, TypeError):
    """An argument has a type or dtype xaic cannot use."""


class UnknownExplanationError(Error, LookupError):
    """No explanation (or layer) of that name."""

    def __str__(self):  # LookupError's KeyError-like quoting is not wanted
        return str(self.args[0]) if self.args else ""


class StatusError(Error):
    """A generated entry (or the runtime) returned a status other than XAI_OK."""

    def __init__(self, status, text, context=""):
        self.status = status
        self.status_name = STATUS_NAMES.get(status, f"status {status}")
        self.text = text
        super().__init__(f"{context}: {text}" if context else text)


class NonFiniteInputError(StatusError, InputError):
    """XAI_ENAN: the input (or baseline, noise) holds NaN or infinity."""


class TargetError(StatusError, InputError):
    """XAI_ETARGET: a target class outside [0, classes)."""


class BatchError(StatusError, InputError):
    """XAI_EBATCH: the batch is empty or too large for the generated code."""


class NonFiniteResultError(StatusError):
    """XAI_ENONFINITE: finite inputs gave NaN or infinity (an overflow in the network or the explanation)."""


class DivergedError(StatusError):
    """XAI_EDIVERGED: activation maximisation reached NaN or infinity (lower its learning rate)."""


class WorkspaceError(StatusError):
    """XAI_EALIGN / XAI_EWORKSPACE: the workspace is misaligned or too small (a bug in this package)."""


_STATUS_CLASSES = {
    XAI_ENAN: NonFiniteInputError,
    XAI_ETARGET: TargetError,
    XAI_EBATCH: BatchError,
    XAI_ENONFINITE: NonFiniteResultError,
    XAI_EDIVERGED: DivergedError,
    XAI_EALIGN: WorkspaceError,
    XAI_EWORKSPACE: WorkspaceError,
}


def status_error(status, text, context=""):
    """The exception for a status code, with its xai_status_string text."""
    return _STATUS_CLASSES.get(status, StatusError)(status, text, context)
