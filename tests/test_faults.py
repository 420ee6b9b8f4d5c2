"""Faults that must never lose work: a process killed while saving, a training run stopped by
SIGTERM, a loss that becomes NaN. The file on disk is always a whole old or a whole new one, and
the last good checkpoint is kept and resumable."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from nndl.runtime import weightfile
from nndl.runtime.errors import TrainingError

ROOT = Path(__file__).resolve().parent.parent
KILLS = 24  # processes killed at random points while saving (the closing note's count)

SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from nndl.runtime import weightfile
    path = sys.argv[1]
    versions = [{"marker": np.full(1, float(v)), "data": np.full(400_000, float(v))}
                for v in (1, 2)]  # 3.2 MB each: writing takes long enough to be cut
    i = 0
    while True:
        weightfile.save(path, versions[i % 2], {"version": i % 2 + 1})
        if i == 0:
            print("saved once", flush=True)
        i += 1
""")


def test_a_process_killed_while_saving_leaves_a_whole_old_or_new_file(tmp_path):
    path = tmp_path / "w.npz"
    weightfile.save(path, {"marker": np.zeros(1), "data": np.zeros(400_000)}, {"version": 0})
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(KILLS):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], cwd=tmp_path,
                                 stdout=subprocess.PIPE)
        assert child.stdout.readline().strip() == b"saved once"
        time.sleep(rng.uniform(0.0, 0.08))  # somewhere in the middle of a save, or between
        child.send_signal(signal.SIGKILL)
        child.wait()
        arrays, meta = weightfile.load(path)  # whole: it reads, and it is one version
        version = meta["version"]
        assert np.all(arrays["marker"] == version) and np.all(arrays["data"] == version)
        seen.add(version)
    assert seen <= {1, 2}  # the child's versions only (how many of each depends on the load)
    weightfile.save(path, {"marker": np.zeros(1), "data": np.zeros(400_000)}, {"version": 0})
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # the killed writers' leftovers


def test_sigterm_stops_nndlc_train_with_a_resumable_checkpoint(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "nndl", "train", str(ROOT / "examples" / "xor.nndl"),
               "--out", str(out), "--quiet", "--epochs", "500"]
    child = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600  # generous: a loaded machine is slow, not wrong
    while not (out / "checkpoint.npz").exists():
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.02)
    time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=600)
    assert child.returncode == 130, err.decode()
    assert b"interrupted: the checkpoint of the last finished epoch is kept" in err
    assert b"Traceback" not in err
    done = weightfile.load(out / "checkpoint.npz")[1]["checkpoint"]["epoch"]
    assert 0 < done < 500
    resumed = subprocess.run(command + ["--resume"], cwd=tmp_path, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr.decode()
    straight = subprocess.run([*command[:6], str(tmp_path / "straight"), *command[7:]],
                              cwd=tmp_path, capture_output=True)
    assert straight.returncode == 0
    a, b = np.load(out / "xor.npz"), np.load(tmp_path / "straight" / "xor.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a.files if k != "__meta__")


def test_a_nan_keeps_the_last_good_checkpoint(compile_text, tmp_path):
    module = compile_text("""
network n {
    seed 1
    input x[3]
    group h[2] : identity
    output y[2] : identity
    connect x -> h : full weight constant(10)
    connect h -> y : full
}
""", "numpy")
    net = module.Network(dtype="float64")
    x = np.random.default_rng(0).normal(size=(8, 3))
    checkpoint = tmp_path / "c.npz"
    net.fit({"x": x}, {"y": np.zeros((8, 2))}, loss="mse", epochs=2, checkpoint=checkpoint,
            optimizer=("sgd", {"lr": 0.01}), progress=False)
    good = checkpoint.read_bytes()
    bad = x.copy()
    bad[3] = 1e308  # times 10: h's output overflows in epoch 3
    with pytest.raises(TrainingError, match=r"epoch 3, batch 1: the loss became (NaN|infinite);"
                                            r" .*output of group `h` at tick 0"), \
            np.errstate(over="ignore", invalid="ignore"):
        net.fit({"x": bad}, {"y": np.zeros((8, 2))}, loss="mse", epochs=4,
                checkpoint=checkpoint, resume=True, optimizer=("sgd", {"lr": 0.01}),
                progress=False)
    assert checkpoint.read_bytes() == good  # epoch 2's, untouched
    fresh = module.Network(dtype="float64")
    history = fresh.fit({"x": x}, {"y": np.zeros((8, 2))}, loss="mse", epochs=3,
                        checkpoint=checkpoint, resume=True, optimizer=("sgd", {"lr": 0.01}),
                        progress=False)
    assert len(history["loss"]) == 3
