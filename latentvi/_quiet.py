"""Imports TensorFlow without its C++ start-up log lines.

TensorFlow 2.21 writes INFO lines (oneDNN notice, missing CUDA drivers) from C++ before its
logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them; the only reliable way is to
point file descriptor 2 at /dev/null while the libraries load. Python errors raised by the
import still reach the user: the descriptor is restored before they propagate.
"""

import contextlib
import os
import sys

__all__ = ["import_tensorflow"]


@contextlib.contextmanager
def _stderr_silenced():
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (some embedded interpreters): nothing to hide
        yield
        return
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def import_tensorflow():
    """Imports tensorflow, tensorflow_probability and keras quietly, once."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow_probability" in sys.modules and "keras" in sys.modules:
        return
    with _stderr_silenced():
        import keras  # noqa: F401
        import tensorflow
        import tensorflow_probability  # noqa: F401
        # Probing the devices here moves the "failed call to cuInit" line of CPU-only machines
        # into the silenced window; it does not initialize the runtime (logical devices can
        # still be configured afterwards).
        tensorflow.config.list_physical_devices()
    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
