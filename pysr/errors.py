"""Typed errors. Every user-facing failure is one of these; the CLI prints `str(err)` and exits 2."""


class PysrError(Exception):
    """Base of every error pysr raises on purpose."""

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\nHINT: {hint}")


class ShapeError(PysrError, ValueError):
    """A tensor's shape, rank or dtype does not fit the op or model (expected vs actual in the text)."""


class AttributeSpecError(PysrError, ValueError):
    """An op attribute is missing, unknown or out of range."""


class GraphError(PysrError, ValueError):
    """A graph is malformed: unknown op, dangling value, cycle, missing parameter."""


class ModelFileError(PysrError, ValueError):
    """A `.pysr` file is unreadable, truncated, inconsistent or holds non-finite values."""


class CheckpointError(PysrError, ValueError):
    """A PyTorch checkpoint cannot be read, or its pickle asks for something other than tensors."""


class UnsupportedError(PysrError, NotImplementedError):
    """A backend cannot run a node (op, dtype or attribute combination)."""


class BackendError(PysrError, RuntimeError):
    """A backend is unknown or cannot start on this machine."""


class InputError(PysrError, ValueError):
    """A frame given to `pysr.run` has the wrong dtype, rank, shape or is empty."""


class MediaError(PysrError):
    """An image or video is missing, unreadable, truncated or unsupported, or an output cannot be written."""


class DataError(PysrError, ValueError):
    """An evaluation input is missing, unreadable, empty, or does not match its pair (names, sizes, scale)."""
