"""The image examples run end to end with tiny settings and write their figures."""

import importlib.util
import pathlib
import struct

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")

# Figure sizes in inches set by latentvi.plotting.images, saved at 100 dpi by the examples.
EXPECTED_PIXELS = {"training_curves.png": (600, 400), "latent_scatter.png": (600, 550),
                   "latent_grid.png": (700, 700), "reconstructions.png": (1200, 280),
                   "prior_samples.png": (600, 600)}


def load_example(name, monkeypatch):
    # As when run as a script, the example imports image_workflow.py from beside it.
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG file"
    return struct.unpack(">II", header[16:24])


def check_outputs(numbers, out, captured):
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPECTED_PIXELS)
    for name, size in EXPECTED_PIXELS.items():
        assert png_size(out / name) == size, name
    # One epoch on 300 images barely trains: both numbers sit between a trained model's
    # (~100-250 nats) and an untrained one's (543 nats), never outside (0, 600).
    assert 0 < numbers["negative_log_px"] < 600 and 0 < numbers["negative_elbo"] < 600
    assert "k=50, first 20 images" in captured


def test_mnist_mlp_example(tmp_path, capsys, monkeypatch):
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST test set not found at {SHARED_MNIST}")
    example = load_example("mnist_vae", monkeypatch)
    out = tmp_path / "mnist"
    numbers = example.main(["--data-dir", str(SHARED_MNIST), "--n-train", "300", "--epochs", "1",
                            "--iw-samples", "50", "--n-logpx", "20", "--out", str(out)])
    captured = capsys.readouterr().out
    assert "splitting the 10,000 test images" in captured  # only the test files are here
    check_outputs(numbers, out, captured)


def test_fashion_conv_example(tmp_path, capsys, monkeypatch):
    if not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    example = load_example("fashion_mnist_conv_vae", monkeypatch)
    out = tmp_path / "fashion"
    numbers = example.main(["--n-train", "300", "--n-test", "500", "--epochs", "1",
                            "--filters", "8", "--iw-samples", "50", "--n-logpx", "20",
                            "--out", str(out)])
    check_outputs(numbers, out, capsys.readouterr().out)
