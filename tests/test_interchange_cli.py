"""`nndlc export` and `nndlc import`: files written, refusals as errors (exit 1), and the
optional packages needed only when used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nndl.commands.cli import main

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"


def test_import_nndl_needs_neither_nir_nor_onnx():
    code = ("import sys; sys.modules['nir'] = sys.modules['onnx'] = None\n"
            "import nndl, nndl.interchange, nndl.commands.cli\n"
            "from nndl.frontend import load_program\n"
            "net = load_program('examples/delay_line.nndl').networks[0]\n"
            "for call in (nndl.interchange.to_nir, nndl.interchange.to_onnx):\n"
            "    try:\n"
            "        call(net)\n"
            "    except nndl.interchange.MissingExtra as e:\n"
            "        print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install 'nndl[nir]'" in done.stdout and "pip install 'nndl[onnx]'" in done.stdout


def test_export_and_import_nir(tmp_path, capsys):
    pytest.importorskip("nir")
    out = tmp_path / "delay.nir"
    assert main(["export", str(EXAMPLES / "delay_line.nndl"), "--to", "nir", "-o", str(out),
                 "--dt", "0.001"]) == 0
    assert "wrote" in capsys.readouterr().out and out.is_file()
    again = tmp_path / "echo.nndl"
    assert main(["import", str(out), "-o", str(again)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {again} and {again.with_suffix('.npz')}" in printed
    assert "dt = 0.001 s" in printed
    assert main(["check", str(again)]) == 0
    assert "delay 3" in again.read_text()


def test_a_sparse_connection_warns(tmp_path, capsys):
    pytest.importorskip("nir")
    path = tmp_path / "sparse.nndl"
    path.write_text("network s { seed 1\n input x[8]\n output y[8] : step\n"
                    " connect x -> y : random(p=0.3) }\n")
    assert main(["export", str(path), "--to", "nir", "-o", str(tmp_path / "s.nir")]) == 0
    assert "warning: NIR has no sparse connection: `x->y` (random)" in capsys.readouterr().err


def test_what_nir_cannot_hold_is_an_error(tmp_path, capsys):
    pytest.importorskip("nir")
    out = tmp_path / "xor.nir"
    assert main(["export", str(EXAMPLES / "xor.nndl"), "--to", "nir", "-o", str(out)]) == 1
    assert "error: group `hidden` uses `tanh`" in capsys.readouterr().err
    assert not out.exists()


def test_export_onnx(tmp_path, capsys):
    pytest.importorskip("onnx")
    out = tmp_path / "r.onnx"
    assert main(["export", str(EXAMPLES / "reservoir.nndl"), "--to", "onnx", "-o", str(out),
                 "--ticks", "3"]) == 0
    assert "3 ticks" in capsys.readouterr().out and out.stat().st_size > 0


def test_a_missing_package_is_named(monkeypatch, tmp_path, capsys):
    import nndl.interchange.errors as errors

    real = errors.importlib.import_module

    def without_nir(name, *args):
        if name == "nir":
            raise ImportError("no nir")
        return real(name, *args)

    monkeypatch.setattr(errors.importlib, "import_module", without_nir)
    assert main(["export", str(EXAMPLES / "delay_line.nndl"), "--to", "nir",
                 "-o", str(tmp_path / "d.nir")]) == 1
    assert "needs the `nir` package: pip install 'nndl[nir]'" in capsys.readouterr().err


def test_bad_files_and_arguments(tmp_path, capsys):
    pytest.importorskip("nir")
    bad = tmp_path / "bad.nir"
    bad.write_text("not HDF5")
    assert main(["import", str(bad), "-o", str(tmp_path / "b.nndl")]) == 1
    assert "cannot read" in capsys.readouterr().err and not (tmp_path / "b.nndl").exists()
    assert main(["import", str(tmp_path / "absent.nir")]) == 2
    with pytest.raises(SystemExit):
        main(["export", str(EXAMPLES / "delay_line.nndl"), "--to", "nir", "--dt", "0"])
    source = EXAMPLES / "delay_line.nndl"
    assert main(["export", str(source), "--to", "nir", "-o", str(source)]) == 1  # its input
    assert "refusing to write" in capsys.readouterr().err


def test_export_takes_a_weight_file(tmp_path, capsys):
    nir = pytest.importorskip("nir")
    import numpy as np

    import nndl

    net = nndl.compile(EXAMPLES / "oja_pca.nndl", backend="numpy", cache=False).Network(
        dtype="float64")
    arrays = net.parameters()
    arrays["x->y.w"] = np.arange(10.0)
    from nndl.runtime import weightfile

    weightfile.save(tmp_path / "w.npz", arrays, net.metadata())
    out = tmp_path / "oja.nir"
    assert main(["export", str(EXAMPLES / "oja_pca.nndl"), "--to", "nir", "-o", str(out),
                 "--weights", str(tmp_path / "w.npz")]) == 0
    np.testing.assert_array_equal(nir.read(str(out)).nodes["x_to_y"].weight, [np.arange(10.0)])
    assert main(["export", str(EXAMPLES / "oja_pca.nndl"), "--to", "nir", "-o", str(out),
                 "--weights", str(tmp_path / "absent.npz")]) == 2
