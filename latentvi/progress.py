"""Progress of a fit that stays quiet wherever its output goes.

Keras' progress bar redraws itself on a terminal, but in a log file or a pipe every redraw is a
new line (a 20-second item fit wrote 375 bars, 182 KB). `Progress` writes one status line:

- on a terminal or in a Jupyter notebook it is redrawn in place after every epoch;
- anywhere else (a log file, a pipe, a batch job's output) one line per epoch, at most one
  every `min_seconds` (default 10 s; the first and the last epoch always), so that a long fit
  shows where it is without flooding the log: a 20-second item fit writes 3 lines, an hour's
  fit one every 10 seconds;
- with `verbose=2`, one line per epoch everywhere (for logs that should show the path).
"""

import sys
import time

import keras

__all__ = ["Progress", "dynamic_display"]


def dynamic_display(stream):
    """True where a carriage return redraws a line: a terminal or a Jupyter kernel."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


class Progress(keras.callbacks.Callback):
    """One status line for a fit: what, steps, epochs, the bound (and its validation value).

    Args:
      what: a few words naming the fit ("1,000 persons x 5 items").
      verbose: 1 one line (redrawn in place where the display allows, else written at the end),
        2 one line per epoch.
      stream: where to write (default sys.stdout, read at each write).
      epoch_name: what an epoch is called ("epoch", or "check" for the convergence rule's
        windows of steps).
      min_seconds: with verbose=1 where the display cannot redraw, the least time between two
        written lines.
    """

    def __init__(self, what, verbose=1, stream=None, epoch_name="epoch", min_seconds=10.0):
        super().__init__()
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2; got {verbose!r}")
        self.what, self.verbose, self.stream, self.epoch_name = what, verbose, stream, epoch_name
        self.min_seconds = min_seconds

    def on_train_begin(self, logs=None):
        self._start, self._line, self._width = time.perf_counter(), None, 0
        self._dynamic = self.verbose == 1 and dynamic_display(self._out())
        self._written_at, self._pending = -float("inf"), False

    def on_epoch_end(self, epoch, logs=None):
        self._line = self._status(epoch + 1, logs or {})
        now = time.perf_counter()
        if self._dynamic:
            self._write("\r" + self._line.ljust(self._width))
            self._width = len(self._line)
        elif self.verbose == 2 or now - self._written_at >= self.min_seconds:
            self._write(self._line + "\n")
            self._written_at, self._pending = now, False
        else:
            self._pending = True

    def on_train_end(self, logs=None):
        if self._line is None:
            return
        if self._dynamic:
            self._write("\r" + self._line.ljust(self._width) + "\n")
        elif self._pending:
            self._write(self._line + "\n")

    def _status(self, epochs, logs):
        steps = int(self.model.optimizer.iterations.numpy()) if self.model.optimizer else 0
        plural = "s" if epochs != 1 else ""
        parts = [f"{self.what}: {steps:,} steps", f"{epochs} {self.epoch_name}{plural}"]
        for name in ("bound", "val_bound", "monitor_bound"):
            if name in logs:
                parts.append(f"{name.replace('_', ' ')} {float(logs[name]):.4g}")
        parts.append(f"{time.perf_counter() - self._start:.1f} s")
        return ", ".join(parts)

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _write(self, text):
        out = self._out()
        out.write(text)
        out.flush()
