"""Bad-input probe of polydiff.core. Run:
  cd scripts/probes/core && OMP_NUM_THREADS=1 TQDM_DISABLE=1 ../../../.venv/bin/python probe.py [section...]
Prints one line per case: CLASS | module | call | outcome."""
import sys, os, json, math, pickle, tempfile, shutil
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import case, summary, OVERRIDES
import numpy as np
import torch
from torch import nn
import polydiff.core as pc
from polydiff.core import training as T
from polydiff.core.training.serialize import read_safetensors, read_json, CheckpointError
from polydiff.core.training.checkpoint import load_weights
from polydiff.core.pipeline import Pipeline, Component, ModelCard, PipelineError
from pathlib import Path

nan, inf = float("nan"), float("inf")
def g(s=0): return torch.Generator().manual_seed(s)
def model(x, t, **k): return 0.1 * x
def model_y(x, t, y=None): return 0.1 * x + 0 * torch.as_tensor(y, dtype=x.dtype).sum()
torch.manual_seed(0)
x2 = torch.randn(2, 3)
def xnan(): z = x2.clone(); z[1, 0] = nan; return z

V = "VAGUE"
OVERRIDES.update({
 "VP(beta_min='0.1')": (V, "raw comparison error, no argument named"),
 "process_from_config({**VP().config(), 'beta_min': 'a'})": (V, "raw comparison error"),
 "make_grid(VP(), 5, t_start='0.5')": (V, "raw torch message, t_start not named"),
 "grid_to_json(grid, '/') (a directory)": ("NAMED", "OSError naming the path"),
 "grid_from_json(JSON t=['1','0.5',...] strings)": (V, "torch-internal detail 'too many dimensions'"),
 "sample(model_y, VP(), x, cond={'y': np.array([nan])})": (V, "NaN in cond blamed on the model"),
 "sample(model_y, VP(), x, cond={'y': [nan, 1.0]}) (list)": (V, "NaN in cond blamed on the model"),
 "sample(..., callback='notcallable')": (V, "raw 'str' object is not callable, argument not named"),
 "sample(..., project_x0='clip')": (V, "raw 'str' object is not callable, argument not named"),
 "sample(..., solver='predictor_corrector', snr=1e30)": (V, "huge snr blamed on the model"),
 "sample(..., known=Known(values with inf where mask==0))": (V, "valid input (non-finite only where mask==0, accepted by Known) refused; blamed on the model"),
 "sample(..., known=Known(values with NaN where mask==0))": (V, "valid input (NaN only where mask==0, accepted by Known) refused; blamed on the model"),
 "sample(..., guidance=ClassifierGuidance(lp returning NaN))": (V, "classifier's NaN blamed on the model"),
 "sample(..., guidance=ClassifierGuidance(lp, scale=1e30))": (V, "huge guidance scale blamed on the model"),
 "Known(v, m, jump_length='x')": (V, "raw int() message, argument not named"),
 "Known(v, m, resample=None)": (V, "raw int() message, argument not named"),
 "clip(lo='a', hi=1)": (V, "raw comparison error"),
 "clip(lo=None, hi=1)": (V, "raw comparison error"),
 "dynamic_threshold(p='0.9')": (V, "raw comparison error"),
 "randn((2,3), generator=5)": (V, "raw torch signature dump"),
 "randn((2,3.5), g)": (V, "raw torch message"),
 "randn(3, g) (int shape)": (V, "raw 'int' object is not iterable (prior_sample accepts an int shape)"),
 "dsm_loss(net_y, VP(), x0, cond={'y': tensor([nan])})": (V, "NaN in cond blamed on the net"),
 "dsm_loss(net, EDM(), x0, time_sampling='lognormal', edm_p_mean=nan)": (V, "bad edm_p_mean blamed on the net"),
 "dsm_loss(net, EDM(), x0, time_sampling='lognormal', edm_p_mean=1e30)": (V, "huge edm_p_mean blamed on the net"),
 "dsm_loss(net, VP(), x0, weighting='min_snr', min_snr_gamma='5')": (V, "raw comparison error"),
 "ode_nll(model, VP(), x, method='rk4', steps=2.5)": (V, "message 'need ... steps >= 1' is satisfied by 2.5; value not named"),
 "ode_nll(model, VP(), x, n_probes=True)": (V, "raw torch randn signature error"),
 "ode_nll(model_y, VP(), x, cond={'y': tensor([nan])})": (V, "NaN in cond blamed on the model"),
 "discrete_vlb(model_y, dvp, x, cond={'y': tensor([nan])})": (V, "NaN in cond blamed on the model"),
 "discrete_vlb(model, dvp, x, decoder='discretized', n_bins=2.5)": (V, "bad n_bins blamed on the data"),
 "mdlm_loss(logits_y, md, x, cond={'y': tensor([nan])})": (V, "NaN in cond blamed on the model"),
 "masked_sample(logits_y, md, (2,3), steps=2, cond={'y': nan})": (V, "NaN in cond blamed on the model"),
 "masked_sample(logits, md, 3, steps=2) (int shape)": (V, "raw 'int' object is not iterable"),
 "ud.posterior_probs(z, x, s=nan, t=0.5)": (V, "message names t, the bad argument is s"),
 "ud.posterior_probs(z, x, s=-0.5, t=0.5)": (V, "message names t, the bad argument is s"),
 "GraphSampler(model, VP(), 3, steps=2) (int shape)": (V, "raw 'int' object is not iterable"),
 "optimize_grid(model, VP(), x, 3, start=make_grid(EDM(),3))": (V, "'grid needs alpha > 0' does not name start or the process mismatch"),
 "optimize_grid(model, VP(), x, 3, solver='ddim', eta=50)": (V, "message names solver 'rk45', the caller asked for 'ddim'"),
 "Denoiser('notcallable', VP(), grid, 'eps', x)": (V, "raw 'str' object is not callable"),
 "TrainConfig(steps=2, batch_size=2, weight_decay='a')": (V, "raw 'must be real number, not str', field not named"),
 "TrainConfig(steps=2, batch_size=2, betas='ab')": (V, "raw float() message, field not named"),
 "TrainConfig(steps=2, batch_size=2, grad_clip='1')": (V, "raw 'must be real number, not str', field not named"),
 "sample_data_parallel(fn, n=2, seeds=['a','b'])": (V, "raw int() message"),
 "sample_data_parallel(fn, n=2, batch_size=1.5)": (V, "raw range() message"),
 "sample_data_parallel(fn, n=2, batch_size='1')": (V, "raw comparison error"),
 "sample_data_parallel(fn, n=2, seeds=5)": (V, "raw 'int' object is not iterable"),
 "save_checkpoint(<existing regular file>, 1, ...)": ("NAMED", "OSError naming the directory"),
 "save_checkpoint(dir, 1, model={1: tensor})": (V, "raw safetensors 'tensor_dict' message"),
 "load_checkpoint(123)": (V, "raw os.fspath message, argument not named"),
 "load_checkpoint(run with manifest entry 'abc')": (V, "raw 'string indices must be integers', file not named"),
 "load_weights(net, 'notadict', Path('x'))": (V, "treats the string's characters as keys"),
 "read_safetensors(a directory)": (V, "says 'file is missing' for a directory"),
 "from_pretrained(folder with format '1' str)": (V, "a str format is reported as a newer format with 'upgrade polydiff'"),
 "save_pretrained('/proc/polydiff-pipe') (unwritable)": (V, "names an internal temp folder, not the path given"),
 "Denoiser(model, VP(), grid, 'eps', x)(x with NaN, 0)": (V, "NaN in x blamed on the model"),
 "Denoiser(...).at(x, t=tensor([nan, nan]))": (V, "NaN t blamed on the model"),
 "Denoiser(...).at(x, t=tensor([5., 5.])) (t>t_max)": (V, "out-of-range t blamed on the model"),
 "Denoiser(model, VP(), grid, 'eps', x, cond={'y': nan tensor})": (V, "NaN in cond blamed on the model"),
 "optimize_grid(model, VP(), x, 3, solver='ddim', eta=0.5) (valid)": (V, "valid solver option refused: forwarded to the internal rk45 reference solve"),
 "sample(model, VP(beta_max=inf), x, steps=3)": (V, "names an internal grid, not beta_max"),
 "Trainer(..., loss_fn=None).fit()": (V, "raw 'NoneType' object is not callable; Trainer checks eval_fn/sample_fn but not loss_fn"),
})

# --- probe_fixed: overrides resolved on rel-core (#31); each new message was read and names the
# argument (or the file / the path given); see the report. The cases themselves are unchanged.
RESOLVED = [k for k, (cls, _) in OVERRIDES.items() if cls == "VAGUE"]
for _k in RESOLVED:
    del OVERRIDES[_k]
TMP = Path(tempfile.mkdtemp(prefix="coreprobe-"))
SECTIONS = sys.argv[1:] or ["process", "discrete", "grid", "sample", "hooks", "losses", "lik",
                            "dstate", "misc", "train", "ckpt", "pipe"]
def shape_is(*s):
    return lambda r: None if tuple(r.shape) == s else f"shape {tuple(r.shape)} != {s}"

# ---------------------------------------------------------------- processes
if "process" in SECTIONS:
    M = "process"
    case(M, "VP(beta_min=-1.0)", lambda: pc.VP(beta_min=-1.0))
    case(M, "VP(beta_min=nan)", lambda: pc.VP(beta_min=nan))
    case(M, "VP(beta_max=inf)", lambda: pc.VP(beta_max=inf))
    case(M, "VP(beta_min=20.0, beta_max=0.1)", lambda: pc.VP(beta_min=20.0, beta_max=0.1))
    case(M, "VP(beta_min='0.1')", lambda: pc.VP(beta_min="0.1"))
    case(M, "VP(beta_max=True)", lambda: pc.VP(beta_max=True))
    case(M, "VP(t_min=0.0)", lambda: pc.VP(t_min=0.0))
    case(M, "VP(t_min=-0.1)", lambda: pc.VP(t_min=-0.1))
    case(M, "VP(t_max=2.0)", lambda: pc.VP(t_max=2.0))
    case(M, "VP(schedule='cosine', s=-1.0)", lambda: pc.VP(schedule="cosine", s=-1.0))
    case(M, "VP(beta_max=1e30)", lambda: pc.VP(beta_max=1e30).sigma(torch.tensor([0.5])))
    case(M, "SubVP(beta_max=-5.0)", lambda: pc.SubVP(beta_max=-5.0))
    case(M, "VE(sigma_min=0.0)", lambda: pc.VE(sigma_min=0.0))
    case(M, "VE(sigma_min=50.0, sigma_max=0.01)", lambda: pc.VE(sigma_min=50.0, sigma_max=0.01))
    case(M, "VE(sigma_max=nan)", lambda: pc.VE(sigma_max=nan))
    case(M, "EDM(rho=0.0)", lambda: pc.EDM(rho=0.0))
    case(M, "EDM(sigma_data=-1.0)", lambda: pc.EDM(sigma_data=-1.0))
    case(M, "EDM(sigma_min=1e30)", lambda: pc.EDM(sigma_min=1e30))
    case(M, "Flow(t_min=0.5, t_max=0.4)", lambda: pc.Flow(t_min=0.5, t_max=0.4))
    case(M, "Flow(t_max=1.0)", lambda: pc.Flow(t_max=1.0))
    case(M, "VP().prior_sample(3) (int shape)", lambda: pc.VP().prior_sample(3), bad=False, check=shape_is(3))
    case(M, "VP().prior_sample((2,-1))", lambda: pc.VP().prior_sample((2, -1)))
    case(M, "VP().prior_sample((2,3), generator=5)", lambda: pc.VP().prior_sample((2, 3), generator=5))
    case(M, "VP().prior_sample((2,3), generator=[g(0)])", lambda: pc.VP().prior_sample((2, 3), generator=[g(0)]))
    case(M, "VP().prior_sample((2,3), dtype=torch.int64)", lambda: pc.VP().prior_sample((2, 3), dtype=torch.int64))
    case(M, "VP().marginal(x0 with NaN, t, eps)", lambda: pc.VP().marginal(xnan(), torch.full((2,), .5), torch.randn(2, 3)))
    case(M, "VP().marginal(x0, t=[5.,5.], eps)", lambda: pc.VP().marginal(x2, torch.full((2,), 5.), torch.randn(2, 3)))
    case(M, "VP().marginal(x0 [2,3], t [2], eps [2,4])", lambda: pc.VP().marginal(x2, torch.full((2,), .5), torch.randn(2, 4)))
    case(M, "VP().marginal(x0 [2,3], t [3], eps)", lambda: pc.VP().marginal(x2, torch.full((3,), .5), torch.randn(2, 3)))
    case(M, "VP().sigma(tensor([2.0])) (t>t_max)", lambda: pc.VP().sigma(torch.tensor([2.0])))
    case(M, "VP().alpha(0.5) (float t)", lambda: pc.VP().alpha(0.5), bad=None)
    case(M, "VP().log_snr(tensor([nan]))", lambda: pc.VP().log_snr(torch.tensor([nan])))
    case(M, "VP().t_from_log_snr(tensor([1e30]))", lambda: pc.VP().t_from_log_snr(torch.tensor([1e30])))
    case(M, "VP().prior_logp(x with NaN)", lambda: pc.VP().prior_logp(xnan()))
    case(M, "EDM().sde(x [2,3], t [3])", lambda: pc.EDM().sde(x2, torch.full((3,), 1.0)))
    case(M, "process_from_config({'class':'VP','beta_min':'a'})", lambda: pc.process_from_config({"class": "VP", "beta_min": "a"}))
    case(M, "process_from_config({'class':'os.system'})", lambda: pc.process_from_config({"class": "os.system"}))
    case(M, "process_from_config({**VE().config(), 'class':'VP'})", lambda: pc.process_from_config({**pc.VE().config(), "class": "VP"}))
    case(M, "process_from_config({**VP().config(), 'beta_max': nan})", lambda: pc.process_from_config({**pc.VP().config(), "beta_max": nan}))
    case(M, "process_from_config({**VP().config(), 'beta_min': 'a'})", lambda: pc.process_from_config({**pc.VP().config(), "beta_min": "a"}))
    case(M, "process_from_config('VP')", lambda: pc.process_from_config("VP"))

# ---------------------------------------------------------------- DiscreteVP / schedules
if "discrete" in SECTIONS:
    M = "discrete"
    B = torch.linspace(1e-4, 0.02, 50)
    case(M, "DiscreteVP(np.linspace(1e-4,.02,50))", lambda: pc.DiscreteVP(np.linspace(1e-4, .02, 50)), bad=None)
    case(M, "DiscreteVP(betas[None]) (rank 2)", lambda: pc.DiscreteVP(B[None]))
    case(M, "DiscreteVP(torch.tensor([]))", lambda: pc.DiscreteVP(torch.tensor([])))
    case(M, "DiscreteVP(betas, spacing='foo')", lambda: pc.DiscreteVP(B, spacing="foo"))
    case(M, "DiscreteVP(betas, steps_offset=-5)", lambda: pc.DiscreteVP(B, steps_offset=-5))
    case(M, "DiscreteVP(betas, prediction_type='sample2')", lambda: pc.DiscreteVP(B, prediction_type="sample2"))
    case(M, "DiscreteVP(betas, x0_clip=-1.0)", lambda: pc.DiscreteVP(B, x0_clip=-1.0))
    case(M, "DiscreteVP(betas, x0_threshold=(2.0, 0.5))", lambda: pc.DiscreteVP(B, x0_threshold=(2.0, 0.5)))
    case(M, "DiscreteVP(betas, lambda_min_clipped=nan)", lambda: pc.DiscreteVP(B, lambda_min_clipped=nan))
    case(M, "DiscreteVP(betas, alphas_cumprod=torch.rand(7))", lambda: pc.DiscreteVP(B, alphas_cumprod=torch.rand(7)))
    case(M, "DiscreteVP(betas, final_sigmas_type='bogus')", lambda: pc.DiscreteVP(B, final_sigmas_type="bogus"))
    case(M, "DiscreteVP(betas, set_alpha_to_one='no')", lambda: pc.DiscreteVP(B, set_alpha_to_one="no"))
    case(M, "from_diffusers({'beta_schedule':'linear','num_train_timesteps':-10})",
         lambda: pc.DiscreteVP.from_diffusers({"beta_schedule": "linear", "num_train_timesteps": -10}))
    case(M, "from_diffusers({... 'prediction_type':'bogus'})",
         lambda: pc.DiscreteVP.from_diffusers({"num_train_timesteps": 100, "prediction_type": "bogus"}))
    case(M, "from_diffusers({'beta_start':0.02,'beta_end':1e-4})",
         lambda: pc.DiscreteVP.from_diffusers({"num_train_timesteps": 100, "beta_start": 0.02, "beta_end": 1e-4}))
    case(M, "from_diffusers({'trained_betas':[0.1, nan]})",
         lambda: pc.DiscreteVP.from_diffusers({"num_train_timesteps": 2, "trained_betas": [0.1, nan]}))
    case(M, "from_diffusers({'timestep_spacing':'weird'})",
         lambda: pc.DiscreteVP.from_diffusers({"num_train_timesteps": 100, "timestep_spacing": "weird"}))
    case(M, "from_diffusers({'num_train_timesteps':'1000'})",
         lambda: pc.DiscreteVP.from_diffusers({"num_train_timesteps": "1000"}))
    case(M, "from_diffusers({'beta_schedule':'nope'})",
         lambda: pc.DiscreteVP.from_diffusers({"num_train_timesteps": 100, "beta_schedule": "nope"}))
    case(M, "from_diffusers({'num_train_timesteps':100,'steps_offset':1.5})",
         lambda: pc.DiscreteVP.from_diffusers({"num_train_timesteps": 100, "steps_offset": 1.5}))
    case(M, "DiscreteVP.from_schedule('linear', T=0)", lambda: pc.DiscreteVP.from_schedule("linear", T=0))
    case(M, "DiscreteVP.from_schedule('linear', 100, beta_start=nan)", lambda: pc.DiscreteVP.from_schedule("linear", 100, beta_start=nan))
    dvp = pc.DiscreteVP(B)
    case(M, "dvp.diffusers_grid(0, 'ddim')", lambda: dvp.diffusers_grid(0, "ddim"))
    case(M, "dvp.diffusers_grid(5, 'nonsense')", lambda: dvp.diffusers_grid(5, "nonsense"))
    case(M, "dvp.diffusers_grid(2000, 'ddim') (steps > T=50)", lambda: dvp.diffusers_grid(2000, "ddim"))
    case(M, "dvp.grid(5, kind='karras', rho=-1.0)", lambda: dvp.grid(5, kind="karras", rho=-1.0))
    case(M, "beta_schedule('linear', 10.5)", lambda: pc.beta_schedule("linear", 10.5))
    case(M, "beta_schedule('linear', True)", lambda: pc.beta_schedule("linear", True))
    case(M, "beta_schedule('linear', 10, beta_start=0.0)", lambda: pc.beta_schedule("linear", 10, beta_start=0.0))
    case(M, "beta_schedule('cosine', 10, beta_start=0.5, beta_end=0.6)", lambda: pc.beta_schedule("cosine", 10, beta_start=0.5, beta_end=0.6))
    case(M, "beta_schedule('linear', 10, beta_end=inf)", lambda: pc.beta_schedule("linear", 10, beta_end=inf))
    case(M, "rescale_zero_terminal_snr(tensor([0.1, nan]))", lambda: pc.rescale_zero_terminal_snr(torch.tensor([0.1, nan])))
    case(M, "rescale_zero_terminal_snr(tensor([0.1])) (T=1)", lambda: pc.rescale_zero_terminal_snr(torch.tensor([0.1])))
    case(M, "rescale_zero_terminal_snr(tensor([1.5, 2.0]))", lambda: pc.rescale_zero_terminal_snr(torch.tensor([1.5, 2.0])))
    case(M, "rescale_zero_terminal_snr(np.array([.1,.2]))", lambda: pc.rescale_zero_terminal_snr(np.array([.1, .2])))
    case(M, "rescale_zero_terminal_snr(tensor([1e-4,0.02]).double()->ok)", lambda: pc.rescale_zero_terminal_snr(torch.linspace(1e-4, .02, 10)), bad=False)

# ---------------------------------------------------------------- Grid
if "grid" in SECTIONS:
    M = "grid"
    vp = pc.VP()
    case(M, "Grid(t=[1,nan,0.001], alpha, sigma)", lambda: pc.Grid(torch.tensor([1., nan, 1e-3]), vp.alpha(torch.tensor([1., .5, 1e-3])), vp.sigma(torch.tensor([1., .5, 1e-3]))))
    case(M, "Grid(t increasing [0.001, 0.5, 1])", lambda: pc.Grid(torch.tensor([1e-3, .5, 1.]), vp.alpha(torch.tensor([1e-3, .5, 1.])), vp.sigma(torch.tensor([1e-3, .5, 1.]))))
    case(M, "Grid(t=[1.,0.], alpha=[1.,1.], sigma=[1.,0.]) as lists", lambda: pc.Grid([1., 0.], [1., 1.], [1., 0.]))
    case(M, "Grid(t int tensor)", lambda: pc.Grid(torch.tensor([1, 0]), torch.tensor([1., 1.]), torch.tensor([1., 0.])))
    case(M, "make_grid(VP(), 5, t_start=nan)", lambda: pc.make_grid(vp, 5, t_start=nan))
    case(M, "make_grid(VP(), True)", lambda: pc.make_grid(vp, True))
    case(M, "make_grid(VP(), 5.0)", lambda: pc.make_grid(vp, 5.0))
    case(M, "make_grid(VP(), 5, t_start=0.5, t_end=0.6)", lambda: pc.make_grid(vp, 5, t_start=.5, t_end=.6))
    case(M, "make_grid(VP(), 5, kind='karras', rho=1e30)", lambda: pc.make_grid(vp, 5, kind="karras", rho=1e30))
    case(M, "make_grid(VP(), 5, t_start='0.5')", lambda: pc.make_grid(vp, 5, t_start="0.5"))
    case(M, "build_grid(VP(), 5, solver='nope')", lambda: pc.build_grid(vp, 5, solver="nope"))
    case(M, "make_grid('VP', 5)", lambda: pc.make_grid("VP", 5))
    case(M, "sample(model, VP(), x, grid=make_grid(SubVP(), 3))", lambda: pc.sample(model, vp, x2, grid=pc.make_grid(pc.SubVP(), 3)))
    case(M, "sample(model, VP(), x, grid=make_grid(VP(t_min=0.5), 3))", lambda: pc.sample(model, vp, x2, grid=pc.make_grid(pc.VP(t_min=0.5), 3)), bad=False)
    case(M, "sample(model, VP(), x, grid='karras')", lambda: pc.sample(model, vp, x2, steps=3, grid="karras"), bad=False)
    case(M, "sample(model, VP(), x, grid='cosine')", lambda: pc.sample(model, vp, x2, steps=3, grid="cosine"))
    gr = pc.make_grid(vp, 3)
    case(M, "grid_to_json(grid, '/proc/nope/g.json') (unwritable)", lambda: pc.grid_to_json(gr, "/proc/nope/g.json"))
    case(M, "grid_to_json(grid, '/') (a directory)", lambda: pc.grid_to_json(gr, "/"))
    case(M, "grid_to_json('notagrid', path)", lambda: pc.grid_to_json("notagrid", TMP / "g.json"))
    case(M, "grid_from_json(missing)", lambda: pc.grid_from_json(TMP / "missing.json"))
    (TMP / "garb.json").write_bytes(os.urandom(64))
    case(M, "grid_from_json(garbage bytes)", lambda: pc.grid_from_json(TMP / "garb.json"))
    pc.grid_to_json(gr, TMP / "good.json")
    good = json.loads((TMP / "good.json").read_text())
    def write(name, obj):
        (TMP / name).write_text(json.dumps(obj)); return TMP / name
    k0 = [k for k in good if isinstance(good[k], list)]
    case(M, f"grid_from_json(JSON without '{k0[0]}')", lambda: pc.grid_from_json(write("g1.json", {k: v for k, v in good.items() if k != k0[0]})))
    case(M, "grid_from_json(JSON with t='abc')", lambda: pc.grid_from_json(write("g2.json", {**good, "t": "abc"})))
    case(M, "grid_from_json(JSON with t=[nan,...])", lambda: pc.grid_from_json(write("g3.json", {**good, "t": [nan] + good["t"][1:]})))
    case(M, "grid_from_json(JSON with alpha=[[...]] nested)", lambda: pc.grid_from_json(write("g4.json", {**good, "alpha": [good["alpha"]]})))
    case(M, "grid_from_json(JSON list [1,2])", lambda: pc.grid_from_json(write("g5.json", [1, 2])))
    case(M, "grid_from_json(JSON t shorter than alpha)", lambda: pc.grid_from_json(write("g6.json", {**good, "t": good["t"][:-1]})))
    case(M, "grid_from_json(JSON t=['1','0.5',...] strings)", lambda: pc.grid_from_json(write("g7.json", {**good, "t": [str(v) for v in good["t"]]})))

# ---------------------------------------------------------------- sample
if "sample" in SECTIONS:
    M = "sample"
    vp = pc.VP()
    case(M, "sample(model, VP(), x, steps=3, t_end=nan)", lambda: pc.sample(model, vp, x2, steps=3, t_end=nan))
    case(M, "sample(model_y, VP(), x, cond={'y': np.array([nan])})", lambda: pc.sample(model_y, vp, x2, steps=3, cond={"y": np.array([nan])}))
    case(M, "sample(model_y, VP(), x, cond={'y': [nan, 1.0]}) (list)", lambda: pc.sample(model_y, vp, x2, steps=3, cond={"y": [nan, 1.0]}))
    case(M, "sample(model, VP(), x_T=np.ndarray)", lambda: pc.sample(model, vp, x2.numpy(), steps=3))
    case(M, "sample(model, VP(), x_T=1e30*ones)", lambda: pc.sample(model, vp, torch.full((2, 3), 1e30), steps=3), bad=None)
    case(M, "sample(model, VP(), x_T=torch.randn(3)) (rank 1)", lambda: pc.sample(model, vp, torch.randn(3), steps=3), bad=None)
    case(M, "sample(..., callback='notcallable')", lambda: pc.sample(model, vp, x2, steps=3, callback="notcallable"))
    case(M, "sample(..., model_dtype=torch.int32)", lambda: pc.sample(model, vp, x2, steps=3, model_dtype=torch.int32))
    case(M, "sample(..., project_x0='clip')", lambda: pc.sample(model, vp, x2, steps=3, project_x0="clip"))
    case(M, "sample(..., differentiable='yes')", lambda: pc.sample(model, vp, x2, steps=3, differentiable="yes"))
    case(M, "sample(..., check_finite='no')", lambda: pc.sample(model, vp, x2, steps=3, check_finite="no"))
    case(M, "sample(..., solver='rk45', rtol=1e30, atol=1e30)", lambda: pc.sample(model, vp, x2, solver="rk45", rtol=1e30, atol=1e30))
    case(M, "sample(..., solver='ddim', eta=True)", lambda: pc.sample(model, vp, x2, steps=3, solver="ddim", eta=True))
    case(M, "sample(..., solver='predictor_corrector', snr=1e30)", lambda: pc.sample(model, vp, x2, steps=2, solver="predictor_corrector", snr=1e30, generator=g()))
    case(M, "sample(..., solver='unipc', order=3, steps=1)", lambda: pc.sample(model, vp, x2, steps=1, solver="unipc", order=3), bad=False)
    case(M, "sample(..., steps=3, t_start=tensor([0.5, nan]))", lambda: pc.sample(model, vp, x2, steps=3, t_start=torch.tensor([.5, nan])))
    case(M, "sample(..., known=Known(values [2,4], mask [2,4]))", lambda: pc.sample(model, vp, x2, steps=3, known=pc.Known(torch.zeros(2, 4), torch.ones(2, 4))))
    case(M, "sample(..., known=Known(values with inf where mask==0))", lambda: pc.sample(model, vp, x2, steps=3, known=pc.Known(torch.tensor([[1., inf, 0.], [1., inf, 0.]]), torch.tensor([[1., 0., 1.], [1., 0., 1.]]))), bad=False)
    case(M, "sample(..., known=Known(values [1,3], mask [1,3])) (batch broadcast)", lambda: pc.sample(model, vp, x2, steps=3, known=pc.Known(torch.zeros(1, 3), torch.ones(1, 3))), bad=None)
    case(M, "sample(..., guidance=CFG(1e30), cond/uncond y)", lambda: pc.sample(lambda x, t, y: 0.1 * x + y[:, None], vp, x2, steps=3, cond={"y": torch.ones(2)}, guidance=pc.CFG(1e30, {"y": torch.zeros(2)})))
    case(M, "sample(..., guidance=CFG(2.0, uncond={'y': nan tensor}))", lambda: pc.sample(lambda x, t, y: 0.1 * x + y[:, None], vp, x2, steps=3, cond={"y": torch.ones(2)}, guidance=pc.CFG(2.0, {"y": torch.tensor([nan, 0.])})))
    case(M, "sample(..., guidance=ClassifierGuidance(lp returning NaN))", lambda: pc.sample(model, vp, x2, steps=3, guidance=pc.ClassifierGuidance(lambda x, t: (x * nan).sum(1))))
    case(M, "sample(..., guidance=ClassifierGuidance(lp, scale=1e30))", lambda: pc.sample(model, vp, x2, steps=3, guidance=pc.ClassifierGuidance(lambda x, t: -(x ** 2).sum(1), scale=1e30)))
    case(M, "sample(..., noise=GaussianNoise(g), solver='euler_maruyama') with noise+generator both", lambda: pc.sample(model, vp, x2, steps=3, solver="euler_maruyama", noise=pc.GaussianNoise(g()), generator=g(1)), bad=None)
    case(M, "sample(..., known=Known(values with NaN where mask==0))", lambda: pc.sample(model, vp, x2, steps=3, known=pc.Known(torch.tensor([[1., nan, 0.], [1., nan, 0.]]), torch.tensor([[1., 0., 1.], [1., 0., 1.]]))), bad=False)
    case(M, "sample(model, EDM(rho=0.0), x, steps=3)", lambda: pc.sample(model, pc.EDM(rho=0.0), x2, steps=3))
    case(M, "sample(model, VP(t_max=2.0), x, steps=3)", lambda: pc.sample(model, pc.VP(t_max=2.0), x2, steps=3))
    case(M, "sample(model, VP(schedule='cosine', s=-1.0), x, steps=3)", lambda: pc.sample(model, pc.VP(schedule="cosine", s=-1.0), x2, steps=3))
    case(M, "sample(model, VP(beta_max=inf), x, steps=3)", lambda: pc.sample(model, pc.VP(beta_max=inf), x2, steps=3))
    case(M, "sample(..., solver='ddim', eta=0.5) without generator", lambda: pc.sample(model, vp, x2, steps=3, solver="ddim", eta=0.5), bad=False)

# ---------------------------------------------------------------- hooks
if "hooks" in SECTIONS:
    M = "hooks"
    t = torch.full((2,), .5)
    case(M, "CFG(scale=True)", lambda: pc.CFG(True))
    case(M, "CFG(scale=np.float64(nan))", lambda: pc.CFG(np.float64(nan)))
    case(M, "sample(..., guidance=CFG(7.5, uncond=[1,2]))", lambda: pc.sample(model, pc.VP(), x2, steps=2, guidance=pc.CFG(7.5, [1, 2])))
    case(M, "ClassifierGuidance(log_prob=None)", lambda: pc.ClassifierGuidance(None))
    case(M, "ClassifierGuidance(lp, scale='3')", lambda: pc.ClassifierGuidance(lambda x, t: x.sum(1), scale="3"))
    v, m = torch.zeros(2, 3), torch.ones(2, 3)
    case(M, "Known(v, m, jump_length=2.5)", lambda: pc.Known(v, m, jump_length=2.5))
    case(M, "Known(v, m, jump_length='x')", lambda: pc.Known(v, m, jump_length="x"))
    case(M, "Known(v, m, resample=None)", lambda: pc.Known(v, m, resample=None))
    case(M, "Known(v, m, noised='no')", lambda: pc.Known(v, m, noised="no"))
    case(M, "Known(v, mask=bool tensor)", lambda: pc.Known(v, m.bool()), bad=False)
    case(M, "Known(v, mask with nan)", lambda: pc.Known(v, torch.tensor([[nan, 1., 0.]] * 2)))
    case(M, "Known(v.numpy(), m)", lambda: pc.Known(v.numpy(), m))
    case(M, "Known(v [2,3], mask [2,4])", lambda: pc.Known(v, torch.ones(2, 4)))
    case(M, "Known(v int tensor, m)", lambda: pc.Known(torch.zeros(2, 3, dtype=torch.long), m), bad=None)
    case(M, "clip(lo='a', hi=1)", lambda: pc.clip("a", 1))
    case(M, "clip(lo=None, hi=1)", lambda: pc.clip(None, 1))
    case(M, "clip(-1, inf)(x, t)", lambda: pc.clip(-1, inf)(x2, t), bad=False)
    case(M, "clip(lo=tensor([0,-1]), hi=1)", lambda: pc.clip(torch.tensor([0., -1.]), 1.))
    case(M, "dynamic_threshold(max_value=inf)(x, t)", lambda: pc.dynamic_threshold(max_value=inf)(x2, t))
    case(M, "dynamic_threshold(p='0.9')", lambda: pc.dynamic_threshold(p="0.9"))
    case(M, "dynamic_threshold(s_max=nan)", lambda: pc.dynamic_threshold(s_max=nan))
    case(M, "dynamic_threshold()(x with NaN, t)", lambda: pc.dynamic_threshold()(xnan(), t))
    case(M, "zero_center(dim=5)(x, t)", lambda: pc.zero_center(dim=5)(x2, t))
    case(M, "zero_center(mask with NaN)(x, t)", lambda: pc.zero_center(torch.tensor([[1., nan, 1.]] * 2)[..., None])(x2[..., None], t))
    case(M, "zero_center(mask=[2,5] vs x [2,3,1])(x, t)", lambda: pc.zero_center(torch.ones(2, 5))(x2[..., None], t))
    case(M, "zero_center(mask='abc')(x, t)", lambda: pc.zero_center("abc")(x2, t))
    case(M, "zero_center(mask all zeros)(x, t)", lambda: pc.zero_center(torch.zeros(2, 3, 1))(x2[..., None], t), bad=False)
    case(M, "nearest_embedding(E with NaN row)(v, t)", lambda: pc.nearest_embedding(torch.tensor([[nan, nan, nan], [0., 0., 0.]]))(x2, t))
    case(M, "nearest_embedding(E 1-D)(v, t)", lambda: pc.nearest_embedding(torch.zeros(3))(x2, t))
    case(M, "nearest_embedding(E numpy)(v, t)", lambda: pc.nearest_embedding(np.zeros((4, 3)))(x2, t))
    case(M, "nearest_embedding(torch.empty(0,3))(v, t)", lambda: pc.nearest_embedding(torch.empty(0, 3))(x2, t))
    case(M, "nearest_embedding('abc')(v, t)", lambda: pc.nearest_embedding("abc")(x2, t))
    case(M, "randn((2,3), generator=5)", lambda: pc.randn((2, 3), 5))
    case(M, "randn((2,3.5), g)", lambda: pc.randn((2, 3.5), g()))
    case(M, "randn(3, g) (int shape)", lambda: pc.randn(3, g()), bad=None, check=shape_is(3))
    case(M, "randn((2,-3), g)", lambda: pc.randn((2, -3), g()))
    case(M, "randn((0,3), generator=[])", lambda: pc.randn((0, 3), []), bad=None)
    case(M, "GaussianNoise([g(0)])(x [2,3])", lambda: pc.GaussianNoise([g(0)])(x2))
    case(M, "GaussianNoise(np.random.default_rng(0))", lambda: pc.GaussianNoise(np.random.default_rng(0)))

# ---------------------------------------------------------------- losses
if "losses" in SECTIONS:
    M = "losses"
    vp = pc.VP()
    lin = nn.Linear(3, 3)
    net = lambda x, t, **k: lin(x)
    net_y = lambda x, t, y=None: lin(x) + 0 * y.sum()
    case(M, "dsm_loss(net_y, VP(), x0, cond={'y': tensor([nan])})", lambda: pc.dsm_loss(net_y, vp, x2, cond={"y": torch.tensor([nan])}, generator=g()))
    case(M, "dsm_loss(net, VP(), x0, mask=[[nan,...]])", lambda: pc.dsm_loss(net, vp, x2, mask=torch.tensor([[nan, 1, 1.], [1, 1, 1.]]), generator=g()))
    case(M, "dsm_loss(net, VP(), x0, mask shape [2])", lambda: pc.dsm_loss(net, vp, x2, mask=torch.ones(2), generator=g()))
    case(M, "dsm_loss(net, VP(), x0, mask bool)", lambda: pc.dsm_loss(net, vp, x2, mask=torch.ones(2, 3).bool(), generator=g()), bad=False)
    case(M, "dsm_loss(net, VP(), x0, t=tensor([nan, .5]))", lambda: pc.dsm_loss(net, vp, x2, t=torch.tensor([nan, .5])))
    case(M, "dsm_loss(net, VP(), x0, t=0.5 float)", lambda: pc.dsm_loss(net, vp, x2, t=0.5))
    case(M, "dsm_loss(net, VP(), x0, eps with inf)", lambda: pc.dsm_loss(net, vp, x2, eps=torch.tensor([[inf, 0, 0.], [0, 0, 0.]])))
    case(M, "dsm_loss(net, VP(), x0, weighting='min_snr', min_snr_gamma=nan)", lambda: pc.dsm_loss(net, vp, x2, weighting="min_snr", min_snr_gamma=nan, generator=g()))
    case(M, "dsm_loss(net, VP(), x0, weighting='min_snr', min_snr_gamma='5')", lambda: pc.dsm_loss(net, vp, x2, weighting="min_snr", min_snr_gamma="5", generator=g()))
    case(M, "dsm_loss(net, EDM(), x0, time_sampling='lognormal', edm_p_std=-1.0)", lambda: pc.dsm_loss(net, pc.EDM(), x2, prediction="edm", time_sampling="lognormal", edm_p_std=-1.0, generator=g()))
    case(M, "dsm_loss(net, EDM(), x0, time_sampling='lognormal', edm_p_mean=nan)", lambda: pc.dsm_loss(net, pc.EDM(), x2, prediction="edm", time_sampling="lognormal", edm_p_mean=nan, generator=g()))
    case(M, "dsm_loss(net, EDM(), x0, time_sampling='lognormal', edm_p_mean=1e30)", lambda: pc.dsm_loss(net, pc.EDM(), x2, prediction="edm", time_sampling="lognormal", edm_p_mean=1e30, generator=g()))
    case(M, "dsm_loss(net, VP(), x0, edm_p_std=-1.0) (EDM param with VP: ignored)", lambda: pc.dsm_loss(net, vp, x2, edm_p_std=-1.0, generator=g()), bad=None)
    case(M, "dsm_loss(net, VP(), x0, generator=3)", lambda: pc.dsm_loss(net, vp, x2, generator=3))
    case(M, "dsm_loss(net, VP(), x0.numpy())", lambda: pc.dsm_loss(net, vp, x2.numpy()))
    case(M, "dsm_loss(net, VP(), x0=1e30*ones)", lambda: pc.dsm_loss(net, vp, torch.full((2, 3), 1e30), generator=g()))
    case(M, "dsm_loss(net, VP(), x0=torch.randn(3)) (rank 1)", lambda: pc.dsm_loss(lambda x, t: x, vp, torch.randn(3), generator=g()), bad=None)
    case(M, "dsm_loss(net, VP(), x0 [0,3])", lambda: pc.dsm_loss(net, vp, torch.zeros(0, 3), generator=g()))
    case(M, "dsm_loss(net, VP(), x0, prediction='edm')", lambda: pc.dsm_loss(net, vp, x2, prediction="edm", generator=g()))
    case(M, "dsm_loss(net, 'VP', x0)", lambda: pc.dsm_loss(net, "VP", x2, generator=g()))
    case(M, "dsm_loss(net, MaskedDiffusion(5,4), x0)", lambda: pc.dsm_loss(net, pc.MaskedDiffusion(5, 4), x2, generator=g()))
    case(M, "loss_weight(VP(), tensor([nan]), 'snr')", lambda: pc.loss_weight(vp, torch.tensor([nan]), "snr"))
    case(M, "loss_weight(VP(), tensor([5.0]), 'snr') (t>t_max)", lambda: pc.loss_weight(vp, torch.tensor([5.0]), "snr"))
    case(M, "loss_weight(VP(), t, 'min_snr', min_snr_gamma=-1)", lambda: pc.loss_weight(vp, torch.tensor([.5]), "min_snr", min_snr_gamma=-1.0))
    case(M, "loss_weight(VP(), 0.5, 'snr') (float t)", lambda: pc.loss_weight(vp, 0.5, "snr"), bad=None)
    case(M, "loss_weight(VP(), t, 'edm')", lambda: pc.loss_weight(vp, torch.tensor([.5]), "edm"))

# ---------------------------------------------------------------- likelihood
if "lik" in SECTIONS:
    M = "likelihood"
    vp = pc.VP()
    case(M, "ode_nll(model, VP(), x, method='rk4', steps=2.5)", lambda: pc.ode_nll(model, vp, x2, method="rk4", steps=2.5, generator=g()))
    case(M, "ode_nll(model, VP(), x, n_probes=True)", lambda: pc.ode_nll(model, vp, x2, method="rk4", steps=2, n_probes=True, generator=g()))
    case(M, "ode_nll(model, VP(), x, generator=3)", lambda: pc.ode_nll(model, vp, x2, method="rk4", steps=2, generator=3))
    case(M, "ode_nll(model_y, VP(), x, cond={'y': tensor([nan])})", lambda: pc.ode_nll(model_y, vp, x2, method="rk4", steps=2, cond={"y": torch.tensor([nan])}, generator=g()))
    case(M, "ode_nll(model, VP(), x=1e30*ones, rk4)", lambda: pc.ode_nll(model, vp, torch.full((2, 3), 1e30), method="rk4", steps=2, generator=g()), bad=None)
    case(M, "ode_nll(model, VP(), x, rtol=1e30, atol=1e30)", lambda: pc.ode_nll(model, vp, x2, rtol=1e30, atol=1e30, generator=g()))
    case(M, "ode_nll(model, VP(), x, rtol=nan)", lambda: pc.ode_nll(model, vp, x2, rtol=nan, generator=g()))
    case(M, "ode_nll(model, 'VP', x)", lambda: pc.ode_nll(model, "VP", x2, method="rk4", steps=2, generator=g()))
    case(M, "bits_per_dim(tensor([1.]), D=True)", lambda: pc.bits_per_dim(torch.tensor([1.]), True))
    case(M, "bits_per_dim(tensor([1.]), 3, bin_width=nan)", lambda: pc.bits_per_dim(torch.tensor([1.]), 3, bin_width=nan))
    case(M, "bits_per_dim(tensor([1.]), 3, n_bins=2.5)", lambda: pc.bits_per_dim(torch.tensor([1.]), 3, n_bins=2.5))
    case(M, "bits_per_dim(np.array([1.]), 3)", lambda: pc.bits_per_dim(np.array([1.]), 3), bad=None)
    case(M, "bits_per_dim(tensor([1.]), 3, n_bins=10**400 int)", lambda: pc.bits_per_dim(torch.tensor([1.]), 3, n_bins=10**400))
    case(M, "bits_per_dim(tensor([1e30]), 3)", lambda: pc.bits_per_dim(torch.tensor([1e30]), 3), bad=False)
    dvp = pc.DiscreteVP(torch.linspace(1e-4, .02, 20))
    case(M, "discrete_vlb(model, dvp, x, n_bins=1, decoder='discretized')", lambda: pc.discrete_vlb(model, dvp, torch.zeros(2, 3), decoder="discretized", n_bins=1, generator=g()))
    case(M, "discrete_vlb(model, dvp, x, generator=5)", lambda: pc.discrete_vlb(model, dvp, x2, generator=5))
    case(M, "discrete_vlb(model_y, dvp, x, cond={'y': tensor([nan])})", lambda: pc.discrete_vlb(model_y, dvp, x2, cond={"y": torch.tensor([nan])}, generator=g()))
    case(M, "discrete_vlb(model, dvp, x=1e30*ones)", lambda: pc.discrete_vlb(model, dvp, torch.full((2, 3), 1e30), generator=g()), bad=None)
    case(M, "discrete_vlb(model, dvp, x, decoder='discretized', n_bins=2.5)", lambda: pc.discrete_vlb(model, dvp, torch.zeros(2, 3), decoder="discretized", n_bins=2.5, generator=g()))

# ---------------------------------------------------------------- discrete state
if "dstate" in SECTIONS:
    M = "discrete_state"
    md = pc.MaskedDiffusion(5, 4)
    tok = torch.tensor([[0, 1, 2], [3, 0, 1]])
    logits = lambda z, t, **k: torch.zeros(*z.shape, 5)
    case(M, "MaskedDiffusion(5.0, 4)", lambda: pc.MaskedDiffusion(5.0, 4))
    case(M, "MaskedDiffusion(5, 4, t_eps=nan)", lambda: pc.MaskedDiffusion(5, 4, t_eps=nan))
    case(M, "MaskedDiffusion(5, -1)", lambda: pc.MaskedDiffusion(5, -1))
    case(M, "MaskedDiffusion(5, 4, schedule='exp')", lambda: pc.MaskedDiffusion(5, 4, schedule="exp"))
    case(M, "UniformDiffusion(True)", lambda: pc.UniformDiffusion(True))
    case(M, "md.sample_zt(x, t=nan)", lambda: md.sample_zt(tok, nan, generator=g()))
    case(M, "md.sample_zt(x, t=tensor([0.5, nan]))", lambda: md.sample_zt(tok, torch.tensor([.5, nan]), generator=g()))
    case(M, "md.sample_zt(x, t=0.5, generator=5)", lambda: md.sample_zt(tok, .5, generator=5))
    case(M, "md.sample_zt(x, 0.5, fixed=float mask with nan)", lambda: md.sample_zt(tok, .5, generator=g(), fixed=torch.tensor([nan, 1., 0.])))
    case(M, "md.sample_zt(x np.int64 array, 0.5)", lambda: md.sample_zt(tok.numpy(), .5, generator=g()))
    case(M, "md.marginal_probs(x, t=tensor([.5,.5,.5]))", lambda: md.marginal_probs(tok, torch.tensor([.5, .5, .5])))
    case(M, "md.marginal_probs(x [2,3,1] rank 3, 0.5)", lambda: md.marginal_probs(tok[..., None], .5))
    case(M, "md.alpha(tensor([2.0]))", lambda: md.alpha(torch.tensor([2.0])))
    case(M, "mdlm_loss(logits, md, x, generator=5)", lambda: pc.mdlm_loss(logits, md, tok, generator=5))
    case(M, "mdlm_loss(logits, md, x, loss_mask=float [nan,1,1])", lambda: pc.mdlm_loss(logits, md, tok, generator=g(), loss_mask=torch.tensor([nan, 1., 1.])))
    case(M, "mdlm_loss(logits, md, x, loss_mask=float [0.5,1,1])", lambda: pc.mdlm_loss(logits, md, tok, generator=g(), loss_mask=torch.tensor([.5, 1., 1.])), bad=None)
    case(M, "mdlm_loss(logits_y, md, x, cond={'y': tensor([nan])})", lambda: pc.mdlm_loss(lambda z, t, y: torch.zeros(*z.shape, 5) + y.sum(), md, tok, generator=g(), cond={"y": torch.tensor([nan])}))
    case(M, "mdlm_loss(logits, md, x, t=tensor([nan, .5]))", lambda: pc.mdlm_loss(logits, md, tok, t=torch.tensor([nan, .5])))
    case(M, "mdlm_loss(logits, md, x, t=tensor([0., 0.]))", lambda: pc.mdlm_loss(logits, md, tok, t=torch.tensor([0., 0.])), bad=None)
    case(M, "mdlm_loss(logits returning +inf, md, x)", lambda: pc.mdlm_loss(lambda z, t: torch.full((*z.shape, 5), inf), md, tok, generator=g()))
    case(M, "mdlm_loss(logits, UniformDiffusion(5), x)", lambda: pc.mdlm_loss(logits, pc.UniformDiffusion(5), tok, generator=g()))
    case(M, "masked_sample(logits, md, (2,3), steps=2.5)", lambda: pc.masked_sample(logits, md, (2, 3), steps=2.5, generator=g()))
    case(M, "masked_sample(logits, md, (2,3), steps=2, temperature=nan)", lambda: pc.masked_sample(logits, md, (2, 3), steps=2, temperature=nan, generator=g()))
    case(M, "masked_sample(logits, md, (2,3), steps=2, temperature=inf)", lambda: pc.masked_sample(logits, md, (2, 3), steps=2, temperature=inf, generator=g()))
    case(M, "masked_sample(logits, md, (2,3), steps=2, temperature=1e30)", lambda: pc.masked_sample(logits, md, (2, 3), steps=2, temperature=1e30, generator=g()), bad=None)
    case(M, "masked_sample(logits, md, (2,3.5), steps=2)", lambda: pc.masked_sample(logits, md, (2, 3.5), steps=2, generator=g()))
    case(M, "masked_sample(logits, md, 3, steps=2) (int shape)", lambda: pc.masked_sample(logits, md, 3, steps=2, generator=g()), bad=None)
    case(M, "masked_sample(logits, md, (2,3), steps=2, generator=5)", lambda: pc.masked_sample(logits, md, (2, 3), steps=2, generator=5))
    case(M, "masked_sample(logits_y, md, (2,3), steps=2, cond={'y': nan})", lambda: pc.masked_sample(lambda z, t, y: torch.zeros(*z.shape, 5) + y.sum(), md, (2, 3), steps=2, generator=g(), cond={"y": torch.tensor([nan])}))
    case(M, "masked_sample(logits, md, steps=2, x=tok, fixed=[1,0,0] float)", lambda: pc.masked_sample(logits, md, steps=2, x=tok, fixed=torch.tensor([1., 0., 0.]), generator=g()), bad=None)
    case(M, "masked_sample(logits, md, (3,3), steps=2, x=tok [2,3]) (shape & x disagree)", lambda: pc.masked_sample(logits, md, (3, 3), steps=2, x=tok, generator=g()))
    ud = pc.UniformDiffusion(5)
    case(M, "ud.posterior_probs(z, x, s=nan, t=0.5)", lambda: ud.posterior_probs(tok, tok, nan, .5))
    case(M, "ud.posterior_probs(z, x, s=-0.5, t=0.5)", lambda: ud.posterior_probs(tok, tok, -.5, .5))
    case(M, "ud.posterior_probs(z [2,3], x [2,4], 0.2, 0.5)", lambda: ud.posterior_probs(tok, torch.zeros(2, 4, dtype=torch.long), .2, .5))

# ---------------------------------------------------------------- restart / graph / optimize_grid / Denoiser / prediction
if "misc" in SECTIONS:
    M = "misc"
    vp = pc.VP()
    case(M, "restart(model, VP(), x0, t_restart=0.5, rounds=2.5, steps=2)", lambda: pc.restart(model, vp, x2, t_restart=.5, rounds=2.5, steps=2, generator=g()))
    case(M, "restart(model, VP(), x0, t_restart=0.5, rounds=1, steps=0)", lambda: pc.restart(model, vp, x2, t_restart=.5, rounds=1, steps=0, generator=g()))
    case(M, "restart(model, VP(), x0 with NaN, ...)", lambda: pc.restart(model, vp, xnan(), t_restart=.5, rounds=1, steps=2, generator=g()))
    case(M, "restart(model, VP(), x0, ..., generator=5)", lambda: pc.restart(model, vp, x2, t_restart=.5, rounds=1, steps=2, generator=5))
    case(M, "restart(model, VP(), x0, t_restart='0.5', ...)", lambda: pc.restart(model, vp, x2, t_restart="0.5", rounds=1, steps=2, generator=g()))
    case(M, "restart(model, VP(), x0, rounds=0, ...)", lambda: pc.restart(model, vp, x2, t_restart=.5, rounds=0, steps=2, generator=g()), bad=False)
    case(M, "restart(model, VP(), x0=1e30*ones, ...)", lambda: pc.restart(model, vp, torch.full((2, 3), 1e30), t_restart=.5, rounds=1, steps=2, generator=g()), bad=None)
    case(M, "restart(model, VP(), x0, ..., solver='ddim', eta=50)", lambda: pc.restart(model, vp, x2, t_restart=.5, rounds=1, steps=2, solver="ddim", eta=50, generator=g()))
    case(M, "GraphSampler(model, VP(), (2,3), steps=2, warmup=-1)", lambda: pc.GraphSampler(model, vp, (2, 3), steps=2, warmup=-1)(x2))
    case(M, "GraphSampler(model, VP(), (2,0), steps=2)", lambda: pc.GraphSampler(model, vp, (2, 0), steps=2)(torch.zeros(2, 0)))
    case(M, "GraphSampler(model, VP(), (2,3), steps=0)", lambda: pc.GraphSampler(model, vp, (2, 3), steps=0)(x2))
    case(M, "GraphSampler(model, VP(), (2,3), solver='bogus')", lambda: pc.GraphSampler(model, vp, (2, 3), steps=2, solver="bogus")(x2))
    case(M, "GraphSampler(model, VP(), (2,3), steps=2, eta=50, solver='ddim')", lambda: pc.GraphSampler(model, vp, (2, 3), steps=2, solver="ddim", eta=50)(x2))
    case(M, "GraphSampler(...)(x_T with NaN)", lambda: pc.GraphSampler(model, vp, (2, 3), steps=2)(xnan()))
    case(M, "GraphSampler(...)(x_T float64)", lambda: pc.GraphSampler(model, vp, (2, 3), steps=2)(x2.double()), bad=None)
    case(M, "GraphSampler(model, VP(), 3, steps=2) (int shape)", lambda: pc.GraphSampler(model, vp, 3, steps=2)(torch.randn(3)), bad=None)
    case(M, "optimize_grid(model, VP(), x, steps=3, budget_s=nan)", lambda: pc.optimize_grid(model, vp, x2, 3, budget_s=nan, sweeps=1))
    case(M, "optimize_grid(model, VP(), x with NaN, steps=3)", lambda: pc.optimize_grid(model, vp, xnan(), 3, sweeps=1, budget_s=2))
    case(M, "optimize_grid(model, VP(), x, steps=3, reference with NaN)", lambda: pc.optimize_grid(model, vp, x2, 3, reference=xnan(), sweeps=1, budget_s=2))
    case(M, "optimize_grid(model, VP(), x, 3, start=make_grid(EDM(),3))", lambda: pc.optimize_grid(model, vp, x2, 3, start=pc.make_grid(pc.EDM(), 3), sweeps=1, budget_s=2))
    case(M, "optimize_grid(model, VP(), x, steps=3.0)", lambda: pc.optimize_grid(model, vp, x2, 3.0, sweeps=1, budget_s=2))
    case(M, "optimize_grid(model, VP(), x, 3, sweeps=True)", lambda: pc.optimize_grid(model, vp, x2, 3, sweeps=True, budget_s=2))
    case(M, "optimize_grid(model, VP(), x, 3, solver='ddim', eta=50)", lambda: pc.optimize_grid(model, vp, x2, 3, solver="ddim", eta=50, sweeps=1, budget_s=2))
    case(M, "optimize_grid(model, VP(), x, 3, solver='ddim', eta=0.5) (valid)", lambda: pc.optimize_grid(model, vp, x2, 3, solver="ddim", eta=0.5, generator=g(), sweeps=1, budget_s=2), bad=False)
    grid = pc.make_grid(vp, 3)
    case(M, "Denoiser(model, VP(), make_grid(EDM(),3), 'eps', x)", lambda: pc.Denoiser(model, vp, pc.make_grid(pc.EDM(), 3), "eps", x2)(x2, 0))
    case(M, "Denoiser(model, VP(), grid, 'bogus', x)", lambda: pc.Denoiser(model, vp, grid, "bogus", x2))
    case(M, "Denoiser(model, VP(), grid, 'eps', x)(x with NaN, 0)", lambda: (lambda d: (d(xnan(), 0), d.check_finite()))(pc.Denoiser(model, vp, grid, "eps", x2)))
    case(M, "Denoiser(...).at(x, t=tensor([nan, nan]))", lambda: (lambda d: (d.at(x2, torch.tensor([nan, nan])), d.check_finite()))(pc.Denoiser(model, vp, grid, "eps", x2)))
    case(M, "Denoiser(...).at(x, t=tensor([5., 5.])) (t>t_max)", lambda: (lambda d: (d.at(x2, torch.tensor([5., 5.])), d.check_finite()))(pc.Denoiser(model, vp, grid, "eps", x2)))
    case(M, "Denoiser(..., model_dtype=torch.int64)", lambda: pc.Denoiser(model, vp, grid, "eps", x2, model_dtype=torch.int64)(x2, 0))
    case(M, "Denoiser(...)(x, i=10) (step beyond grid)", lambda: pc.Denoiser(model, vp, grid, "eps", x2)(x2, 10))
    case(M, "Denoiser('notcallable', VP(), grid, 'eps', x)", lambda: pc.Denoiser("notcallable", vp, grid, "eps", x2)(x2, 0))
    case(M, "Denoiser(model, VP(), grid, 'eps', x, cond={'y': nan tensor})", lambda: (lambda d: (d(x2, 0), d.check_finite()))(pc.Denoiser(model_y, vp, grid, "eps", x2, cond={"y": torch.tensor([nan])})))
    case(M, "prediction_coefficients('eps', alpha=tensor([nan]), sigma=tensor([1.]))", lambda: pc.prediction_coefficients("eps", torch.tensor([nan]), torch.tensor([1.])))
    case(M, "prediction_coefficients('eps', alpha=tensor([0.]), sigma=tensor([0.]))", lambda: pc.prediction_coefficients("eps", torch.tensor([0.]), torch.tensor([0.])))
    case(M, "prediction_coefficients('edm', a, s, sigma_data=-1.0)", lambda: pc.prediction_coefficients("edm", torch.tensor([1.]), torch.tensor([1.]), sigma_data=-1.0))
    case(M, "prediction_coefficients('edm', a, s, sigma_data=0.0)", lambda: pc.prediction_coefficients("edm", torch.tensor([1.]), torch.tensor([1.]), sigma_data=0.0))
    case(M, "prediction_coefficients('eps', 0.5, 0.5) (floats)", lambda: pc.prediction_coefficients("eps", .5, .5), bad=None)
    case(M, "prediction_coefficients('eps', alpha [2], sigma [3])", lambda: pc.prediction_coefficients("eps", torch.ones(2), torch.ones(3)))
    case(M, "prediction_coefficients('v', alpha=-1, sigma=-1)", lambda: pc.prediction_coefficients("v", torch.tensor([-1.]), torch.tensor([-1.])))

# ---------------------------------------------------------------- training
def small_net(width=2, seed=0):
    torch.manual_seed(seed); return nn.Linear(3, width if width else 3)
def mse_loss(net, batch, generator):
    return (net(batch) ** 2).mean()
def dsm_fn(net, batch, generator):
    return pc.dsm_loss(lambda x, t: net(x), pc.VP(), batch, generator=generator).mean()
def cfg(**kw):
    base = dict(steps=2, batch_size=2, log_every=1, ema_decay=None)
    base.update(kw); return T.TrainConfig(**base)
if "train" in SECTIONS:
    M = "training"
    for kw in ["steps=2.0", "lr=True", "lr=1e30", "lr=-1e-3", "weight_decay='a'", "weight_decay=-0.1",
               "betas='ab'", "betas=(nan, 0.9)", "betas=(0.9,)", "grad_clip='1'", "grad_clip=0.0",
               "ema_decay=1.5", "ema_decay=nan", "ema_power=inf", "ema_power=nan",
               "precision='fp8'", "device='tpu'", "seed=-1", "batch_size=True", "grad_accum=3",
               "ckpt_dir=123", "warmup_steps=10**9", "keep_last=0", "num_workers=-1", "lr_schedule='bogus'",
               "ema_warmup='bogus'"]:
        bad = True
        if kw in ("warmup_steps=10**9",):
            bad = None
        case(M, f"TrainConfig(steps=2, batch_size=2, {kw})", (lambda kw=kw: cfg(**eval(f"dict({kw})"))), bad=bad)
    data = torch.randn(4, 3)
    dnan = data.clone(); dnan[2, 1] = nan
    def fit(c, net, loss, ds, **kw):
        tr = T.Trainer(c, net, loss, ds, net_config=kw.pop("net_config", {"width": 2}), **kw)
        return tr.fit()
    case(M, "Trainer(...mse loss, dataset with NaN).fit()", lambda: fit(cfg(steps=2), small_net(), mse_loss, dnan))
    case(M, "Trainer(...dsm loss, dataset with NaN).fit()", lambda: fit(cfg(steps=2), small_net(3), dsm_fn, dnan))
    case(M, "Trainer(...mse loss, dataset with 1e30).fit()", lambda: fit(cfg(steps=2, ema_decay=None), small_net(), mse_loss, torch.full((4, 3), 1e30)))
    case(M, "Trainer(...dataset=torch.empty(0,3)).fit()", lambda: fit(cfg(steps=2), small_net(), mse_loss, torch.empty(0, 3)))
    case(M, "Trainer(...dataset=np.ndarray).fit()", lambda: fit(cfg(steps=1), small_net(), mse_loss, data.numpy()), bad=None)
    case(M, "Trainer(...dataset of 1 row, batch_size=2).fit()", lambda: fit(cfg(steps=1), small_net(), mse_loss, data[:1]), bad=None)
    case(M, "Trainer(..., net_config={'w': tensor}).fit()", lambda: fit(cfg(steps=1), small_net(), mse_loss, data, net_config={"w": torch.ones(1)}))
    case(M, "Trainer(..., net='notamodule')", lambda: T.Trainer(cfg(), "net", mse_loss, data, net_config={}))
    case(M, "Trainer(..., loss_fn=None).fit()", lambda: T.Trainer(cfg(), small_net(), None, data, net_config={}).fit())
    case(M, "Trainer(cfg(ckpt_dir='/proc/polydiff-run', ckpt_every=1)).fit()", lambda: fit(cfg(steps=1, ckpt_dir="/proc/polydiff-run", ckpt_every=1), small_net(), mse_loss, data))
    case(M, "Trainer(loss_fn returning [2] tensor).fit()", lambda: fit(cfg(steps=1), small_net(), lambda n, b, g: (n(b) ** 2).mean(1), data))
    case(M, "Trainer(loss_fn returning python float).fit()", lambda: fit(cfg(steps=1), small_net(), lambda n, b, g: 1.0, data))
    case(M, "Trainer(cfg, net with all params frozen)", lambda: T.Trainer(cfg(), small_net().requires_grad_(False), mse_loss, data, net_config={}))
    case(M, "Trainer(...).fit(max_steps=-1)", lambda: T.Trainer(cfg(), small_net(), mse_loss, data, net_config={}).fit(max_steps=-1))
    case(M, "Trainer(...).fit(resume='yes')", lambda: T.Trainer(cfg(), small_net(), mse_loss, data, net_config={}).fit(resume="yes"))
    case(M, "sample_data_parallel(fn, n=2, seeds=[0.5, 1.7])", lambda: T.sample_data_parallel(lambda s: torch.zeros(len(s), 1), 2, seeds=[0.5, 1.7]))
    case(M, "sample_data_parallel(fn, n=2, seeds=['a','b'])", lambda: T.sample_data_parallel(lambda s: torch.zeros(len(s), 1), 2, seeds=["a", "b"]))
    case(M, "sample_data_parallel(fn, n=2, seeds=[-1, -2])", lambda: T.sample_data_parallel(lambda s: torch.stack([torch.randn(1, generator=g(x)) for x in s]), 2, seeds=[-1, -2]), bad=None)
    case(M, "sample_data_parallel(fn, n=2, batch_size=1.5)", lambda: T.sample_data_parallel(lambda s: torch.zeros(len(s), 1), 2, batch_size=1.5))
    case(M, "sample_data_parallel(fn, n=2, batch_size='1')", lambda: T.sample_data_parallel(lambda s: torch.zeros(len(s), 1), 2, batch_size="1"))
    case(M, "sample_data_parallel(fn, n=np.int64(2))", lambda: T.sample_data_parallel(lambda s: torch.zeros(len(s), 1), np.int64(2)), bad=None)
    case(M, "sample_data_parallel(fn, n=2, seeds=5)", lambda: T.sample_data_parallel(lambda s: torch.zeros(len(s), 1), 2, seeds=5))

# ---------------------------------------------------------------- checkpoints & files
if "ckpt" in SECTIONS:
    M = "checkpoint"
    net = small_net()
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    run = TMP / "run"
    ok = T.save_checkpoint(run, 1, model=sd, config={"steps": 1}, net_config={"width": 2})
    def copy_run(name):
        d = TMP / name; shutil.copytree(run, d); return d, d / ok.name
    case(M, "save_checkpoint(dir, step=-1, ...)", lambda: T.save_checkpoint(TMP / "r1", -1, model=sd, config={}, net_config={}))
    case(M, "save_checkpoint(dir, step=1.0, ...)", lambda: T.save_checkpoint(TMP / "r1", 1.0, model=sd, config={}, net_config={}))
    case(M, "save_checkpoint(dir, 1, model={'w': np.ones(2)})", lambda: T.save_checkpoint(TMP / "r2", 1, model={"w": np.ones(2)}, config={}, net_config={}))
    case(M, "save_checkpoint(dir, 1, model={'w': tensor([nan])})", lambda: T.save_checkpoint(TMP / "r3", 1, model={"w": torch.tensor([nan])}, config={}, net_config={}))
    case(M, "save_checkpoint(dir, 1, model={'w': tensor([1e30]) half-able})", lambda: T.save_checkpoint(TMP / "r3b", 1, model={"w": torch.tensor([1e30])}, config={}, net_config={}), bad=False)
    case(M, "save_checkpoint(dir, 1, config={'a': object()})", lambda: T.save_checkpoint(TMP / "r4", 1, model=sd, config={"a": object()}, net_config={}))
    case(M, "save_checkpoint(dir, 1, config={'a': nan})", lambda: T.save_checkpoint(TMP / "r4b", 1, model=sd, config={"a": nan}, net_config={}), bad=None)
    case(M, "save_checkpoint('/proc/polydiff-ckpt', 1, ...) (unwritable)", lambda: T.save_checkpoint("/proc/polydiff-ckpt", 1, model=sd, config={}, net_config={}))
    (TMP / "afile").write_text("x")
    case(M, "save_checkpoint(<existing regular file>, 1, ...)", lambda: T.save_checkpoint(TMP / "afile", 1, model=sd, config={}, net_config={}))
    case(M, "save_checkpoint(dir, 1, model=net.state_dict(), keep_last=True)", lambda: T.save_checkpoint(TMP / "r5", 1, model=sd, config={}, net_config={}, keep_last=True))
    case(M, "save_checkpoint(dir, 1, model={1: tensor})", lambda: T.save_checkpoint(TMP / "r6", 1, model={1: torch.ones(1)}, config={}, net_config={}))
    case(M, "save_checkpoint(dir, 1, model=sd, state={'x': np.float32(1)})", lambda: T.save_checkpoint(TMP / "r7", 1, model=sd, config={}, net_config={}, state={"x": np.float32(1)}))
    case(M, "load_checkpoint(missing dir)", lambda: T.load_checkpoint(TMP / "nope"))
    case(M, "load_checkpoint(run, net=nn.Linear(3,5)) (other net)", lambda: T.load_checkpoint(run, net=nn.Linear(3, 5)))
    case(M, "load_checkpoint(run, net=nn.Conv1d(3,2,1)) (other kind)", lambda: T.load_checkpoint(run, net=nn.Conv1d(3, 2, 1)))
    case(M, "load_checkpoint(run, net_config={'width': 5})", lambda: T.load_checkpoint(run, net_config={"width": 5}))
    case(M, "load_checkpoint(run, net='linear')", lambda: T.load_checkpoint(run, net="linear"))
    case(M, "load_checkpoint(123)", lambda: T.load_checkpoint(123))
    def trunc():
        d, s = copy_run("trunc"); f = s / "model.safetensors"; f.write_bytes(f.read_bytes()[:40]); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run with truncated model.safetensors)", trunc)
    def garbage():
        d, s = copy_run("garb"); (s / "model.safetensors").write_bytes(os.urandom(200)); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run with garbage model.safetensors)", garbage)
    def pick():
        d, s = copy_run("pick"); (s / "model.safetensors").write_bytes(pickle.dumps(sd)); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run with pickle renamed .safetensors)", pick)
    def statemiss():
        d, s = copy_run("stmiss"); (s / "state.json").unlink(); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run without state.json)", statemiss)
    def latest_bad():
        d, s = copy_run("latestbad"); (d / "latest").write_text("../../etc"); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run whose 'latest' says '../../etc')", latest_bad)
    def manifest_wrongtype():
        d, s = copy_run("manwt"); (s / "manifest.json").write_text(json.dumps({"files": [1, 2]})); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run with manifest.json files=[1,2])", manifest_wrongtype)
    def manifest_entry_wrongtype():
        d, s = copy_run("manwt2"); m = json.loads((s / "manifest.json").read_text())
        k = next(iter(m["files"])); m["files"][k] = "abc"; (s / "manifest.json").write_text(json.dumps(m)); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run with manifest entry 'abc')", manifest_entry_wrongtype)
    def state_wrongtype():
        d, s = copy_run("stwt"); m = json.loads((s / "manifest.json").read_text())
        data = b"[1, 2, 3]"; (s / "state.json").write_bytes(data)
        import hashlib
        m["files"]["state.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        (s / "manifest.json").write_text(json.dumps(m)); return T.load_checkpoint(d)
    case(M, "load_checkpoint(run with state.json=[1,2,3], manifest updated)", state_wrongtype)
    def netcfg_wrongtype():
        d, s = copy_run("ncwt"); m = json.loads((s / "manifest.json").read_text())
        data = b'"width"'; (s / "net_config.json").write_bytes(data)
        import hashlib
        m["files"]["net_config.json"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        (s / "manifest.json").write_text(json.dumps(m)); return T.load_for_sampling(d, lambda **k: small_net(**k))
    case(M, "load_for_sampling(run with net_config.json='\"width\"', manifest updated)", netcfg_wrongtype)
    case(M, "load_for_sampling(run, net_factory=lambda **k: nn.Linear(3,7))", lambda: T.load_for_sampling(run, lambda **k: nn.Linear(3, 7)))
    case(M, "load_for_sampling(run, net_factory=lambda: nn.Linear(3,2)) (takes no kwargs)", lambda: T.load_for_sampling(run, lambda: nn.Linear(3, 2)))
    case(M, "load_for_sampling(run, small_net, device='tpu')", lambda: T.load_for_sampling(run, small_net, device="tpu"))
    case(M, "load_weights(net, {'weight': [2,3] NaN, 'bias': ...}, Path('x'))", lambda: load_weights(small_net(), {"weight": torch.full((2, 3), nan), "bias": torch.zeros(2)}, Path("x")))
    case(M, "load_weights(net, {'weight': [5,3], 'bias': [5]}, Path('x'))", lambda: load_weights(small_net(), {"weight": torch.zeros(5, 3), "bias": torch.zeros(5)}, Path("x")))
    case(M, "load_weights(net, {'weight': int64 [2,3], 'bias': [2]}, Path('x'))", lambda: load_weights(small_net(), {"weight": torch.zeros(2, 3, dtype=torch.long), "bias": torch.zeros(2)}, Path("x")))
    case(M, "load_weights(net, 'notadict', Path('x'))", lambda: load_weights(small_net(), "notadict", Path("x")))
    case(M, "read_safetensors(missing)", lambda: read_safetensors(TMP / "none.safetensors"))
    (TMP / "p.safetensors").write_bytes(pickle.dumps({"a": 1}))
    case(M, "read_safetensors(pickle renamed)", lambda: read_safetensors(TMP / "p.safetensors"))
    (TMP / "g.safetensors").write_bytes(os.urandom(100))
    case(M, "read_safetensors(garbage)", lambda: read_safetensors(TMP / "g.safetensors"))
    (TMP / "t.safetensors").write_bytes((ok / "model.safetensors").read_bytes()[:-4])
    case(M, "read_safetensors(truncated by 4 bytes)", lambda: read_safetensors(TMP / "t.safetensors"))
    (TMP / "e.safetensors").write_bytes(b"")
    case(M, "read_safetensors(empty file)", lambda: read_safetensors(TMP / "e.safetensors"))
    case(M, "read_safetensors(a directory)", lambda: read_safetensors(TMP))
    case(M, "read_safetensors('str path')", lambda: read_safetensors(str(ok / "model.safetensors")), bad=False)
    case(M, "read_json(missing)", lambda: read_json(TMP / "none.json"))
    (TMP / "bad.json").write_text('{"a": 1')
    case(M, "read_json(truncated)", lambda: read_json(TMP / "bad.json"))
    (TMP / "latin.json").write_bytes(b'{"a": "\xff\xfe"}')
    case(M, "read_json(invalid utf-8)", lambda: read_json(TMP / "latin.json"))
    (TMP / "pk.json").write_bytes(pickle.dumps({"a": 1}))
    case(M, "read_json(pickle renamed .json)", lambda: read_json(TMP / "pk.json"))

# ---------------------------------------------------------------- pipeline
class ToyPipeline(Pipeline):
    component_names = ("net", "process", "sampler")
    def __init__(self, net, process, steps=2):
        self.net, self.process, self.steps = net, process, steps
    def components(self):
        return {"net": Component({"width": 2}, self.net.state_dict()),
                "process": Component(self.process.config()),
                "sampler": Component({"solver": "dpmpp_2m", "steps": self.steps})}
    @classmethod
    def from_components(cls, components, device):
        net = small_net(components["net"].config["width"], seed=9)
        load_weights(net, components["net"].tensors, Path("net/weights.safetensors"))
        return cls(net.to(device), pc.process_from_config(components["process"].config),
                   components["sampler"].config["steps"])
class OtherPipeline(ToyPipeline):
    pass
if "pipe" in SECTIONS:
    M = "pipeline"
    import hashlib
    pipe = ToyPipeline(small_net(), pc.VP())
    P = TMP / "pipe"
    pipe.save_pretrained(P)
    def copy_pipe(name):
        d = TMP / name; shutil.copytree(P, d); return d
    def edit_index(d, fn):
        idx = json.loads((d / "pipeline.json").read_text()); fn(idx); (d / "pipeline.json").write_text(json.dumps(idx)); return d
    def edit_file(d, rel, data):
        (d / rel).write_bytes(data)
        return edit_index(d, lambda idx: idx["files"].__setitem__(rel, {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}))
    case(M, "ToyPipeline.from_pretrained(missing folder)", lambda: ToyPipeline.from_pretrained(TMP / "nopipe"))
    case(M, "ToyPipeline.from_pretrained(123)", lambda: ToyPipeline.from_pretrained(123))
    case(M, "OtherPipeline.from_pretrained(ToyPipeline folder)", lambda: OtherPipeline.from_pretrained(P))
    case(M, "from_pretrained(folder with format 99)", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("f99"), lambda i: i.__setitem__("format", 99))))
    case(M, "from_pretrained(folder with format '1' str)", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("fstr"), lambda i: i.__setitem__("format", "1"))))
    case(M, "from_pretrained(folder with format -1)", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("fneg"), lambda i: i.__setitem__("format", -1))))
    case(M, "from_pretrained(folder with polydiff_version '0.0.1')", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("v001"), lambda i: i.__setitem__("polydiff_version", "0.0.1"))), bad=False)
    case(M, "from_pretrained(folder with polydiff_version 12 (int))", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("vint"), lambda i: i.__setitem__("polydiff_version", 12))), bad=None)
    def trunc_w():
        d = copy_pipe("tw"); f = d / "net/weights.safetensors"; f.write_bytes(f.read_bytes()[:30]); return ToyPipeline.from_pretrained(d)
    case(M, "from_pretrained(truncated weights)", trunc_w)
    case(M, "from_pretrained(truncated weights, index sha updated)", lambda: ToyPipeline.from_pretrained(edit_file(copy_pipe("tw2"), "net/weights.safetensors", (P / "net/weights.safetensors").read_bytes()[:30])))
    case(M, "from_pretrained(pickle as weights, index sha updated)", lambda: ToyPipeline.from_pretrained(edit_file(copy_pipe("pw"), "net/weights.safetensors", pickle.dumps({"a": 1}))))
    def garb_index():
        d = copy_pipe("gi"); (d / "pipeline.json").write_bytes(os.urandom(50)); return ToyPipeline.from_pretrained(d)
    case(M, "from_pretrained(garbage pipeline.json)", garb_index)
    case(M, "from_pretrained(index without 'files')", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("nofiles"), lambda i: i.pop("files"))))
    case(M, "from_pretrained(net config.json without 'width', sha updated)", lambda: ToyPipeline.from_pretrained(edit_file(copy_pipe("nowidth"), "net/config.json", b"{}")))
    case(M, "from_pretrained(net config width='2' str, sha updated)", lambda: ToyPipeline.from_pretrained(edit_file(copy_pipe("wstr"), "net/config.json", b'{"width": "2"}')))
    case(M, "from_pretrained(net config width=5, sha updated) (weights of width 2)", lambda: ToyPipeline.from_pretrained(edit_file(copy_pipe("w5"), "net/config.json", b'{"width": 5}')))
    case(M, "from_pretrained(process config beta_max=-1, sha updated)", lambda: ToyPipeline.from_pretrained(edit_file(copy_pipe("pneg"), "process/config.json", json.dumps({**pc.VP().config(), "beta_max": -1.0}).encode())))
    case(M, "from_pretrained(process config = EDM config, sha updated)", lambda: ToyPipeline.from_pretrained(edit_file(copy_pipe("pedm"), "process/config.json", json.dumps(pc.EDM().config()).encode())), bad=None)
    case(M, "from_pretrained(card metrics='x')", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("card"), lambda i: i["card"].__setitem__("metrics", "x"))))
    case(M, "from_pretrained(card with unknown key)", lambda: ToyPipeline.from_pretrained(edit_index(copy_pipe("card2"), lambda i: i["card"].__setitem__("extra", 1))))
    case(M, "from_pretrained(P, device='tpu')", lambda: ToyPipeline.from_pretrained(P, device="tpu"))
    case(M, "from_pretrained(P, revision=3)", lambda: ToyPipeline.from_pretrained(P, revision=3))
    case(M, "save_pretrained('/proc/polydiff-pipe') (unwritable)", lambda: pipe.save_pretrained("/proc/polydiff-pipe"))
    case(M, "save_pretrained(<existing regular file>)", lambda: pipe.save_pretrained(TMP / "afile2") if (TMP / "afile2").write_text("x") else None)
    case(M, "save_pretrained(path, dtype=torch.int8)", lambda: pipe.save_pretrained(TMP / "p8", dtype=torch.int8))
    case(M, "save_pretrained(path, dtype='float16')", lambda: pipe.save_pretrained(TMP / "p16", dtype="float16"))
    case(M, "save_pretrained(path, card={'data': 'x'})", lambda: pipe.save_pretrained(TMP / "pcard", card={"data": "x"}))
    case(M, "save_pretrained(path, dtype=float16) with weights 1e30", lambda: ToyPipeline(small_net().requires_grad_(False).apply(lambda m: m.weight.fill_(1e30) if isinstance(m, nn.Linear) else None), pc.VP()).save_pretrained(TMP / "pbig", dtype=torch.float16))
    case(M, "save_pretrained(path) with NaN weights", lambda: ToyPipeline(small_net().requires_grad_(False).apply(lambda m: m.weight.fill_(nan) if isinstance(m, nn.Linear) else None), pc.VP()).save_pretrained(TMP / "pnan"))
    case(M, "ModelCard(metrics=[{'value': nan}])", lambda: ModelCard(metrics=[{"value": nan}]))

summary()
shutil.rmtree(TMP, ignore_errors=True)
