"""The errors digitclf raises on bad input; each carries a sentence a user can act on."""


class DigitclfError(Exception):
    """Base class: the CLI and the dashboard show its message instead of a traceback."""


class UsageError(DigitclfError):
    """A value given by the caller is not allowed (the CLI exits with status 2 for these)."""


class DataError(DigitclfError):
    """An MNIST file is missing or corrupt."""


class ModelStoreError(DigitclfError):
    """A bad model name, a missing model or a refused overwrite."""


class BrokenModelError(ModelStoreError):
    """A model folder that cannot be used: a missing or damaged card or model file, a model
    of another input shape, or one that would run code on loading."""


class RefusedError(ModelStoreError):
    """A change refused because it would leave the store worse off (deleting the active or
    the shipped model, activating a model far below a useful accuracy); `force` overrides it."""


class ModelBusyError(ModelStoreError):
    """Another process is writing a model of that name (a training in progress)."""


class ImageError(DigitclfError):
    """An input cannot be read as an image (unknown format, too large, wrong shape)."""


class NoDigitError(DigitclfError):
    """The image holds no digit: blank, all ink, or only a speck."""


class InvalidNameError(ModelStoreError, UsageError):
    """A model name that is not 1-64 letters, digits, '-' or '_'."""


class ConfigError(UsageError):
    """A training hyperparameter is out of range."""
