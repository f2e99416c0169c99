"""The README's item factor analysis snippet, run as a user would in a script or a log."""

import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_irt_snippet_is_quiet_in_a_log(tmp_path):
    # Output redirected to a file (not a terminal): the fit must not write a progress bar per
    # redraw (it wrote 375 bars, 182 KB); a status line and nothing else is the standard.
    block = next(b for b in python_blocks(README.read_text()) if "ItemFactorModel" in b)
    script = tmp_path / "snippet.py"
    script.write_text(block)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr
    assert len(output.splitlines()) <= 3, output[:2000]
    assert "\r" not in output and "\x1b" not in output
    assert (tmp_path / "lsat7.lvirt").is_file()  # the snippet ran to its end
