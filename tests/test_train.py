"""train.py end to end, in temporary run directories: the files a run leaves, resuming a stopped
run to the same parameters as an uninterrupted one, fine-tuning with frozen weights, exit codes.

Runs call train.main(argv) in this process (no interpreter start-up per run) with tiny step
counts; MNIST-1D is generated once per session into a temporary data directory.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import framework as fw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


def run(capsys, *argv):
    """(exit status, stdout lines) of `python train.py *argv`."""
    status = train.main([str(a) for a in argv])
    out = capsys.readouterr().out
    return status, out.strip().splitlines()


def as_array(value) -> np.ndarray:
    return value.numpy() if isinstance(value, fw.Tensor) else np.asarray(value)


def weights(path) -> dict:
    return {k: v.numpy() for k, v in fw.load(path)["model"].items()}


# A small, fast configuration: 4,000 examples in batches of 400 (10 steps per epoch).
FAST = ("--batch-size", 400, "--no-progress")


def test_default_run_writes_everything(tmp_path, data_dir, capsys):
    out_dir = tmp_path / "run"
    status, lines = run(capsys, "--steps", 15, "--out-dir", out_dir, "--data-dir", data_dir,
                        "--target-acc", 0.01, *FAST)
    assert status == 0, lines
    assert lines[-1].startswith("done: final test acc "), lines[-1]
    assert "| 15 steps |" in lines[-1]
    assert any(line.startswith("config: dataset=mnist1d model=cnn") for line in lines)

    config = json.loads((out_dir / "config.json").read_text())
    assert config["dataset"] == "mnist1d" and config["model"] == "cnn"
    assert config["optimizer"] == "adam" and config["lr"] == 2e-2 and config["steps"] == 15

    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in records if r["split"] == "train"]
    test_rows = [r for r in records if r["split"] == "test"]
    assert [r["step"] for r in test_rows] == [10, 15], "one evaluation per (partial) epoch"
    assert train_rows[-1]["step"] == 15 and all(np.isfinite(r["loss"]) for r in train_rows)
    assert all(0 <= r["acc"] <= 1 for r in records)

    assert (out_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    last = fw.load(out_dir / "last.ckpt")
    assert last["step"] == 15 and last["config"] == config
    assert set(last) >= {"model", "optimizer", "scheduler", "rng_state", "step", "best"}
    assert last["test"]["acc"] == test_rows[-1]["acc"]
    best = fw.load(out_dir / "best.ckpt")
    assert best["step"] == best["best"]["step"]
    # No temporary files are left behind by the atomic writes.
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "best.ckpt", "config.json", "curves.png", "last.ckpt", "metrics.jsonl"]


def test_resume_reproduces_an_uninterrupted_run(tmp_path, data_dir, capsys):
    """25 steps straight == 13 steps, stop (mid-epoch), --resume to 25: identical parameters,
    optimizer state and schedule (data order comes back from the saved seed/epoch/step)."""
    common = ("--steps", 25, "--data-dir", data_dir, *FAST)
    status, _ = run(capsys, *common, "--out-dir", tmp_path / "straight")
    assert status == 0
    status, lines = run(capsys, *common, "--out-dir", tmp_path / "split", "--stop-at", 13)
    assert status == 0 and "stopped by --stop-at at step 13" in "\n".join(lines)
    assert fw.load(tmp_path / "split" / "last.ckpt")["step"] == 13
    status, lines = run(capsys, "--resume", tmp_path / "split", "--no-progress")
    assert status == 0, lines
    assert "resuming at step 13" in "\n".join(lines)

    a, b = fw.load(tmp_path / "straight" / "last.ckpt"), fw.load(tmp_path / "split" / "last.ckpt")
    assert a["step"] == b["step"] == 25
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k].numpy(), b["model"][k].numpy(), err_msg=k)
    for i, state in a["optimizer"]["state"].items():
        for k, v in state.items():
            np.testing.assert_array_equal(as_array(v), as_array(b["optimizer"]["state"][i][k]),
                                          err_msg=f"optimizer state {i}.{k}")
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 25
    # The resumed run's metrics continue the stopped one's, without duplicates.
    steps = [json.loads(line)["step"] for line in
             (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["split"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 25

    # Resuming a finished run trains nothing and reports the same result.
    status, lines = run(capsys, "--resume", tmp_path / "split", "--no-progress")
    assert status == 0 and "| 25 steps |" in lines[-1]
    c = fw.load(tmp_path / "split" / "last.ckpt")
    for k in a["model"]:
        np.testing.assert_array_equal(c["model"][k].numpy(), a["model"][k].numpy(), err_msg=k)


def test_sigint_stops_with_a_checkpoint_and_status_130(tmp_path, data_dir):
    """Ctrl-C: the run finishes its step, writes last.ckpt and the plot, says how to resume."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "--steps", "4000",
         "--out-dir", str(tmp_path), "--data-dir", data_dir, "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:  # wait until it trains (the first epoch's line)
            lines.append(line)
            if line.startswith("epoch"):
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines += out.splitlines()
    assert proc.returncode == 130, "".join(lines)
    assert any(f"continue with: python train.py --resume {tmp_path}" in line for line in lines)
    step = fw.load(tmp_path / "last.ckpt")["step"]
    assert 0 < step < 4000
    assert (tmp_path / "curves.png").exists()


def test_resume_refuses_changed_options(tmp_path, data_dir, capsys):
    run(capsys, "--steps", 2, "--out-dir", tmp_path, "--data-dir", data_dir, *FAST)
    status = train.main(["--resume", str(tmp_path), "--lr", "0.5"])
    err = capsys.readouterr().err
    assert status == 2
    assert "these options differ from it: --lr" in err


def test_fine_tuning_trains_only_unfrozen_weights(tmp_path, data_dir, capsys):
    status, _ = run(capsys, "--steps", 10, "--out-dir", tmp_path / "pre", "--data-dir",
                    data_dir, *FAST)
    assert status == 0
    status, lines = run(capsys, "--init-from", tmp_path / "pre", "--freeze", "conv*",
                        "--steps", 10, "--lr", 1e-3, "--out-dir", tmp_path / "fine",
                        "--data-dir", data_dir, "--target-acc", 99.9, *FAST)
    assert status == 1, "final accuracy below --target-acc 99.9% exits with 1"
    assert "is below --target-acc 99.90%" in "\n".join(lines)
    assert "1,260 trainable, 6 tensors frozen" in lines[0]

    pre, fine = weights(tmp_path / "pre" / "best.ckpt"), weights(tmp_path / "fine" / "last.ckpt")
    for k in pre:
        if k.startswith("conv"):
            np.testing.assert_array_equal(fine[k], pre[k], err_msg=f"frozen {k} changed")
        else:
            assert not np.array_equal(fine[k], pre[k]), f"trainable {k} did not change"
    # The optimizer only ever held the trainable parameters (linear.weight, linear.bias).
    assert len(fw.load(tmp_path / "fine" / "last.ckpt")["optimizer"]["state"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["--model", "lenet5"], "--model lenet5 does not fit --dataset mnist1d; choose one of"),
    (["--freeze", "nothing*"], "--freeze 'nothing*' matches no parameter; the names are: "
                               "conv1.weight"),
    (["--freeze", "*"], "--freeze froze every parameter"),
    (["--init-from", "/nonexistent/x.ckpt"], "no checkpoint at /nonexistent/x.ckpt"),
    (["--steps", "0"], "--steps must be >= 1, got 0"),
])
def test_bad_options_exit_2_with_a_clear_message(argv, message, tmp_path, data_dir, capsys):
    status = train.main([*argv, "--out-dir", str(tmp_path), "--data-dir", data_dir])
    assert status == 2
    assert message in capsys.readouterr().err


def test_init_from_a_different_model_names_the_mismatch(tmp_path, data_dir, capsys):
    run(capsys, "--steps", 1, "--model", "mlp", "--out-dir", tmp_path / "mlp", "--data-dir",
        data_dir, *FAST)
    status = train.main(["--init-from", str(tmp_path / "mlp"), "--out-dir", str(tmp_path / "x"),
                         "--data-dir", data_dir])
    err = capsys.readouterr().err
    assert status == 2
    assert "does not fit this model (it was trained as --dataset mnist1d --model mlp)" in err
    assert "missing: conv1.weight" in err


@pytest.mark.parametrize("argv", [
    ["--dataset", "spirals", "--steps", "5"],
    ["--model", "gru", "--steps", "2"],
    ["--dataset", "text", "--steps", "3", "--block-size", "16", "--batch-size", "8"],
    ["--optimizer", "sgd", "--scheduler", "onecycle", "--steps", "3"],
    ["--optimizer", "adamw", "--scheduler", "warmup", "--steps", "3", "--clip-grad-norm", "1"],
    ["--scheduler", "step", "--steps", "3"],
])
def test_other_data_sets_models_and_schedules_run(argv, tmp_path, data_dir, capsys):
    status, lines = run(capsys, *argv, "--out-dir", tmp_path, "--data-dir", data_dir,
                        "--no-progress")
    assert status == 0, lines
    assert lines[-1].startswith("done: final test acc")
    if "text" in argv:
        assert any(line.startswith("sample: ") for line in lines)


def test_a_foreign_datasets_package_is_refused():
    """With another top-level `datasets` imported first (Hugging Face's), train.py says so."""
    code = ("import sys, types; sys.modules['datasets'] = types.ModuleType('datasets'); "
            f"sys.path.insert(0, {str(ROOT)!r}); import train")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "ImportError: `import datasets` found" in result.stderr
    assert "not this repository's datasets/ package" in result.stderr


def _fake_images(shape, n_train=300, n_test=100, seed=0):
    """A loader's dict of random uint8 images whose class shows as image brightness."""
    rng = np.random.default_rng(seed)

    def split(n):
        y = rng.integers(0, 10, n).astype(np.int64)
        x = rng.integers(0, 100, (n, *shape)) + 15 * y.reshape(-1, *[1] * len(shape))
        return x.astype(np.uint8), y

    (x_train, y_train), (x_test, y_test) = split(n_train), split(n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


@pytest.mark.parametrize("dataset, loader, shape, extra", [
    ("mnist", "load_mnist", (28, 28), []),
    ("fashion-mnist", "load_fashion_mnist", (28, 28), ["--model", "mlp"]),
    ("cifar10", "load_cifar10", (3, 32, 32), ["--batch-size", "16"]),
])
def test_image_data_sets_run_with_their_default_models(dataset, loader, shape, extra, tmp_path,
                                                        monkeypatch, capsys):
    """The image paths (uint8 standardised on the device, CIFAR flips, LeNet-5, ResNet) on
    small stand-in arrays (the real files are downloads)."""
    monkeypatch.setattr(train.datasets, loader, lambda data_dir: _fake_images(shape))
    status, lines = run(capsys, "--dataset", dataset, "--steps", 2, *extra, "--out-dir",
                        tmp_path, "--no-progress")
    assert status == 0, lines
    assert lines[-1].startswith("done: final test acc")


def test_image_batches_are_standardised_per_channel():
    data = train.Data(None, None, None, None, 10, image_stats=((0.5, 0.25), (0.5, 0.25)))
    x = fw.from_numpy(np.full((2, 2, 3, 3), 255, dtype=np.uint8))
    out = data.prepare(x, train=False).numpy()
    assert out.dtype == np.float32 and out.shape == (2, 2, 3, 3)
    np.testing.assert_allclose(out[:, 0], 1.0, rtol=1e-6, err_msg="(1 - 0.5) / 0.5")
    np.testing.assert_allclose(out[:, 1], 3.0, rtol=1e-6, err_msg="(1 - 0.25) / 0.25")


def test_a_missing_download_exits_2_naming_the_files(tmp_path, monkeypatch, capsys):
    def offline(url):
        raise OSError("network unreachable")

    monkeypatch.setattr(train.datasets.download, "_open_url", offline)
    status = train.main(["--dataset", "mnist", "--data-dir", str(tmp_path), "--out-dir",
                         str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2
    assert "train-images-idx3-ubyte.gz" in err and str(tmp_path / "mnist") in err
