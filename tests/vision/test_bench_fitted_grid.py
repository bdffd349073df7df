"""The vision benchmark's fitted-grid piece (issue #25) on the shipped ``mnist-cfg`` pipeline:
it samples exactly as the pipeline does, and a tiny run writes valid records and grid files."""
import polydiff.core as pc
import pytest
import torch
from polydiff.bench import vision as bench
from polydiff.bench.schema import record_problems
from polydiff.bench.vision_fitted_grid import FULL, pipeline_sample, run_fitted_grid
from polydiff.core.pipeline_hub import shipped_pipelines
from polydiff.vision.data import from_model_range
from polydiff.vision.nets import Classifier
from polydiff.vision.pipelines import VisionGenerationPipeline

pytestmark = pytest.mark.skipif("mnist-cfg" not in shipped_pipelines(), reason="mnist-cfg is not shipped here")


def test_pipeline_sample_is_the_pipelines_own_sampling():
    """With no grid, the piece's sampler gives the pipeline's images bit for bit (same noise,
    labels, guidance and clipping), so 'pipeline-default-grid' is what a user of the pipeline gets."""
    pipe = VisionGenerationPipeline.from_pretrained("mnist-cfg")
    labels = torch.tensor([0, 3, 7])
    x_T = pipe.process.prior_sample((3, *pipe.image_shape), generator=torch.Generator().manual_seed(5))
    ours = from_model_range(pipeline_sample(pipe, x_T, labels, "dpmpp_2m", 3))
    theirs = pipe(labels, solver="dpmpp_2m", steps=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(ours, theirs)


def test_tiny_run_writes_valid_records_and_loadable_grids(tmp_path):
    torch.manual_seed(0)
    clf = Classifier(width=8).eval()  # untrained: the run's plumbing, not its numbers
    x_te = torch.rand(80, 1, 28, 28)
    y_te = torch.arange(80) % 10
    cfg = {**FULL, "steps": (3,), "n_fit": 4, "n_eval": 40, "n_rmse": 8, "reference_steps": 8, "sweeps": 1,
           "iters": 1, "bootstrap": 5}
    recs = run_fitted_grid(cfg, clf, x_te, y_te, tmp_path)
    assert all(not record_problems(r, domain="vision") for r in recs)
    methods = {r["method"] for r in recs if r["metric"] == "classifier-frechet"}
    assert {"polydiff-fitted-grid", "log-snr", "pipeline-default-grid", "real-test-images"} <= methods
    assert any(m.startswith("fit-start(") for m in methods)
    fitted = [r for r in recs if r["method"] == "polydiff-fitted-grid"]
    assert all(r["fit_evaluations"] > 0 and r["fit_cpu_seconds"] > 0 and r["nfe"] == 6 for r in fitted)  # guided: 2/step
    assert {r["metric"] for r in fitted} == {"classifier-frechet", "classifier-accuracy", "rmse-to-fine-solution"}
    g = pc.grid_from_json(tmp_path / "fitted_grids" / "mnist-cfg-dpmpp_2m-3.json")
    assert g.steps == 3 and float(g.t[0]) == 999.0 and g.to_clean()
    assert g.t.tolist() == fitted[0]["grid_t"]


def test_fitted_grids_run_in_full_mode_only():
    assert bench.CONFIGS["full"]["fitted_grid"] is FULL and not bench.CONFIGS["quick"]["fitted_grid"]
