"""Tiny case harness: case(module, call_text, fn, bad=True|False|None, check=None)."""
import os, sys, signal, math, warnings, traceback
os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ["TQDM_DISABLE"] = "1"
import torch
torch.set_num_threads(1)

NAMED_TYPES = ("ValueError", "TypeError", "FileNotFoundError", "CheckpointError",
               "PipelineError", "FloatingPointError", "NotADirectoryError", "PermissionError")
RESULTS = []
# manual re-classification after reading the message: key = call text -> (class, reason)
OVERRIDES = {}

def _has_nonfinite(r):
    if isinstance(r, torch.Tensor):
        return r.is_floating_point() and not bool(torch.isfinite(r).all())
    if isinstance(r, (tuple, list)):
        return any(_has_nonfinite(v) for v in r)
    if isinstance(r, float):
        return not math.isfinite(r)
    if hasattr(r, "__dict__") and not isinstance(r, torch.nn.Module):
        return any(_has_nonfinite(v) for v in vars(r).values() if isinstance(v, torch.Tensor))
    return False

def _short(r):
    if isinstance(r, torch.Tensor):
        s = f"tensor{tuple(r.shape)} {r.dtype}"
        if r.is_floating_point() and r.numel():
            s += f" nonfinite={int((~torch.isfinite(r)).sum())} range=[{float(r.nan_to_num().min()):.3g},{float(r.nan_to_num().max()):.3g}]"
        return s
    return repr(r)[:120]

class _Timeout(Exception): pass
def _alarm(*a): raise _Timeout("case timed out (30 s)")

def case(module, call, fn, bad=True, check=None):
    """bad=True: input is wrong, should raise. bad=False: legit edge, should return correctly.
    bad=None: either raising a named error or returning a correct result is fine.
    check(result) -> None if result is correct, else a string saying what is wrong."""
    signal.signal(signal.SIGALRM, _alarm); signal.alarm(30)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            r = fn()
            signal.alarm(0)
            wmsg = ("; warned: " + str(w[0].message).splitlines()[0][:100]) if w else ""
            problem = check(r) if check else None
            if problem is None and _has_nonfinite(r):
                problem = "non-finite values in the output"
            if bad is True:
                cls, what = "SILENT", f"returned {_short(r)}" + (f" ({problem})" if problem else "") + wmsg
            elif problem:
                cls, what = "SILENT", f"returned {_short(r)} ({problem}){wmsg}"
            else:
                cls, what = "OK-EDGE", f"returned {_short(r)}{wmsg}"
        except _Timeout as e:
            cls, what = "VAGUE", str(e)
        except BaseException as e:  # noqa
            signal.alarm(0)
            name = type(e).__name__
            msg = (str(e).splitlines() or [""])[0][:220]
            what = f"{name}: {msg}"
            if bad is False:
                cls = "VAGUE" if name not in NAMED_TYPES else "NAMED-BUT-REFUSED-VALID"
            else:
                cls = "NAMED" if name in NAMED_TYPES else "VAGUE"
    if call in OVERRIDES:
        cls, reason = OVERRIDES[call]
        what += f"  [reclassified: {reason}]"
    RESULTS.append((module, cls, call, what))
    print(f"{cls:8s} | {module:10s} | {call} | {what}", flush=True)

def summary():
    from collections import Counter
    c = Counter(r[1] for r in RESULTS)
    print("\nTOTAL", len(RESULTS), dict(c))
