"""The errors digitclf raises on bad input; each carries a sentence a user can act on."""


class DigitclfError(Exception):
    """Base class: the CLI and the dashboard show its message instead of a traceback."""


class UsageError(DigitclfError):
    """A value given by the caller is not allowed (the CLI exits with status 2 for these)."""


class DataError(DigitclfError):
    """An MNIST file is missing or corrupt."""


class ModelStoreError(DigitclfError):
    """A bad model name, a missing model or a refused overwrite."""


class ImageError(DigitclfError):
    """An input cannot be read as an image (unknown format, too large, wrong shape)."""


class NoDigitError(DigitclfError):
    """The image holds no digit: blank, all ink, or only a speck."""


class InvalidNameError(ModelStoreError, UsageError):
    """A model name that is not 1-64 letters, digits, '-' or '_'."""


class ConfigError(UsageError):
    """A training hyperparameter is out of range."""
