"""preflight: stop a training run before it spends accelerator time on data that cannot teach it."""

__version__ = "0.1.0"

__all__ = ["__version__"]
