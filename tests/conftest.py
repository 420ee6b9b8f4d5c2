"""Shared fixtures: an isolated compile cache, the `backend` fixture, compiling source text."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

import nndl
from nndl import backends

# What `pytest -m "not slow"`, the quick run (under 2 minutes on two cores), leaves out: whole
# files, or tests by the start of their name. CI runs everything. A test that takes more than a
# few seconds belongs here or carries @pytest.mark.slow itself.
SLOW = {
    "test_cupy.py": None,  # every kernel built by g++ (the emulation) and nvcc
    "test_cupy_rules.py": ("test_every_rule_block_compiles_with_nvcc",),
    "test_faults.py": None,  # processes killed while saving and training
    "test_main_job.py": None,  # the README's main job and its recurrent twin, trained in full
    "test_pruning.py": None,
    "test_recurrent_properties.py": None,  # hypothesis: random networks over 100 ticks
    "test_properties.py": None,
    "test_fuzz_frontend.py": ("test_programs_from_the_grammar", "test_mutants_of_every_source",
                              "test_extreme_inputs"),
    # every example through every backend: the conformance suite's widest sweeps
    "test_examples.py": ("test_example_script_runs", "test_examples_with_time_agree",
                         "test_example_backends_agree"),
    "test_rules.py": ("test_every_example_builds_the_same_parameters_in_every_backend",),
    "test_summary.py": ("test_every_example_summarises_on_every_backend",),
    "test_drawing.py": ("test_every_example_draws_with_matplotlib",),
    "test_codegen_safety.py": ("test_hostile_names_in_every_place", "test_names_of_every_length",
                               "test_hostile_source_paths", "test_a_declaration_in_the_path",
                               "test_numbers_in_models_stay_literals", "test_long_names_compute",
                               "test_model_variables_avoid_every_name"),
    "test_gradients.py": ("test_random_networks", "test_the_gradient_generator",
                          "test_a_neuron_level_step_of_model_neurons",
                          "test_convolutions_on_signals_and_volumes"),
    "test_local_rules.py": ("test_oja_converges_to_the_leading_eigenvector",),
    "test_parser.py": ("test_the_parser_from_tables_parses_as_the_one_built_from_the_grammar",),
    "test_random.py": ("test_backprop_through_a_noisy_model", "test_drawing_kernels_compile"),
    "test_ranges.py": ("test_fan_in_from_exact_ranges_is_uniform",),
    "test_sampling.py": ("test_fan_in_is_uniform_over_candidates",),
    "test_weightfile.py": ("test_damaged_bytes_are_refused", "test_damaged_arrays_are_refused"),
    "test_program_size.py": ("test_suggestions_among_100000_names",),
    "test_peer_torch.py": None,
    "test_peer_torch_grids.py": None,
    "test_sweep.py": ("test_on_a_dask_cluster", "test_a_local_cluster", "test_a_killed_sweep"),
}


def pytest_collection_modifyitems(items):
    for item in items:
        names = SLOW.get(item.path.name, ())
        if names is None or any(item.name.startswith(n) for n in names):
            item.add_marker(pytest.mark.slow)


# Every backend the conformance suite runs on. A backend that is not built yet, or whose library
# or hardware is missing here (cupy without a GPU), is skipped with the reason, not failed.
BACKENDS = ("oo", "numpy")


def backend_unavailable(name: str) -> str | None:
    """Why `name` cannot run on this machine, or None when it can."""
    if name not in backends.BACKENDS:
        return f"backend `{name}` is not implemented yet"
    return backends.unavailable(name)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Point the compile cache at a fresh folder so tests never read or write the user's cache."""
    folder = tmp_path_factory.mktemp("nndl-cache")
    monkeypatch.setenv("NNDL_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(params=(*BACKENDS, "cupy"))
def backend(request, monkeypatch) -> str:
    """Each backend; cupy on the GPU where CuPy finds one, else on the CPU through
    tests/cuda_emulation.py (its own CUDA kernels built with g++), else skipped with the reason."""
    reason = backend_unavailable(request.param)
    if reason and request.param == "cupy" and shutil.which("g++"):
        import cuda_emulation

        monkeypatch.setitem(sys.modules, "cupy", cuda_emulation.fake_cupy())
    elif reason:
        pytest.skip(reason)
    return request.param


def write_source(text: str, folder: Path) -> Path:
    """Write NNDL text to a file named after its hash (the same text reuses the same file)."""
    path = folder / f"net_{hashlib.sha256(text.encode()).hexdigest()[:16]}.nndl"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def compile_text(tmp_path_factory):
    """`compile_text(text, backend, network=None)`: the module compiled from NNDL source text."""
    folder = tmp_path_factory.mktemp("nndl-sources")

    def compile_(text: str, backend: str, network: str | None = None, **options):
        return nndl.compile(write_source(text, folder), backend=backend, network=network,
                            **options)

    return compile_


def draw_examples(strategy, count: int) -> list:
    """`count` values from a strategy, drawn as a test draws them but deterministically, so a
    test about what a generator writes cannot fail by the luck of the draw."""
    from hypothesis import HealthCheck, Phase, given, settings

    drawn = []

    @settings(max_examples=count, database=None, derandomize=True, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value):
        drawn.append(value)

    collect()
    return drawn


def assert_backends_agree(reference, other, inputs: dict, context: str, ticks=None) -> dict:
    """The two networks hold identical parameters and, run on `inputs`, agree at every tick to
    DESIGN.md's float64 tolerance; returns the reference's outputs (ticks, batch, ...)."""
    import numpy as np

    from nndl.commands.equivalence import TOLERANCE, scaled_difference

    expected_parameters, parameters = reference.parameters(), other.parameters()
    assert sorted(parameters) == sorted(expected_parameters)
    for key, value in expected_parameters.items():
        np.testing.assert_array_equal(parameters[key], value, err_msg=key)
    expected = reference.run(inputs, ticks=ticks, every_tick=True)
    actual = other.run(inputs, ticks=ticks, every_tick=True)
    assert sorted(actual) == sorted(expected) == sorted(g.name for g in reference.SPEC.outputs)
    for name, y in expected.items():
        assert actual[name].shape == y.shape
        assert np.isfinite(y).all(), (name, context)
        for t in range(y.shape[0]):
            difference = scaled_difference(actual[name][t], y[t])
            assert difference <= TOLERANCE["float64"], (name, t, difference, context)
    return expected
