"""One base class for the failures a user can cause and fix.

The CLI prints an `AestheticsError` as one line and exits 2; anything else
is a bug and keeps its traceback. Subclasses say which kind of input was
wrong; each also derives from the built-in type callers used to catch
(ValueError, FileNotFoundError, RuntimeError), so library users keep working.
"""

from __future__ import annotations


class AestheticsError(Exception):
    """Base of every expected, user-facing failure."""


class ConfigError(AestheticsError, ValueError):
    """A config value (file, --set override, CLI option) is invalid; the
    message names the key."""


class LabelError(AestheticsError, ValueError):
    """A label file or row is invalid; the message names file and line."""


class InputNotFoundError(AestheticsError, FileNotFoundError):
    """A file or folder the user named does not exist (or holds no images)."""


class ModelFileError(AestheticsError, ValueError):
    """A model file is missing, truncated, of the wrong kind, or carries an
    invalid recipe."""


class WeightsUnavailableError(AestheticsError, RuntimeError):
    """Pretrained weights cannot be had (offline, missing file); the message
    says which local file to pass."""


class RunFolderError(AestheticsError, RuntimeError):
    """A run folder cannot be resumed as asked (e.g. its config differs)."""


class DataError(AestheticsError, RuntimeError):
    """The data cannot be used as a whole (empty split, nothing scorable)."""


class OutputError(AestheticsError, OSError):
    """An output file or folder cannot be written."""


class TrainingDivergedError(AestheticsError, RuntimeError):
    """The loss (or the weights) became NaN or infinite during training."""


class ExportError(AestheticsError, ValueError):
    """An export cannot be written as asked."""
