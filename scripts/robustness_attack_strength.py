"""How far a short EOT-PGD is from the strongest attack we have, on one defence.

Until 27ab02f the robustness bench attacked every purifier with EOT-PGD of 10 or 20 steps x 2
draws; this script measured how much that overstated robustness, and the bench now runs the
worst case of the longer attacks. It attacks one fast purifier (DDPM ancestral steps from
``t* = 0.1``, full gradients through the solver) on the first ``--n`` test images with the short
EOT-PGD (``--weak-steps`` x ``--weak-eot``) and with longer ones — EOT-PGD with more steps and
draws, APGD-CE and APGD-DLR with EOT (Croce & Hein 2020) — and reports each attack's robust
accuracy and the per-example worst case over all of them (``--defence adv-trained`` or
``undefended`` attacks that classifier instead; ``--square Q`` adds the score-based Square
attack, which no gradient masking can hide from)::

    python scripts/robustness_attack_strength.py --dataset mnist --steps 5 --n 128 \\
        --out OUT/robustness --json bench/results/supplementary/robustness-attacks-mnist.json

Each adversarial example is classified by ``--draws`` fresh purifications. Two readings:

* one fresh draw per example (what :func:`polydiff.robustness.attacks.evaluate` and
  AutoAttack do): the worst case over attacks then also counts every extra draw as another
  chance to be wrong, so it mixes attack strength with the purifier's randomness;
* the mean over the draws (the defence's expected accuracy on that adversarial example),
  and its worst case over attacks per example, ``mean_i min_a p_ia``: mostly attack
  strength (a minimum over noisy ``--draws``-draw means still leans a little low).

The short attack judged by all draws at once (correct only if every draw is) isolates the
effect of the randomness. Differences from the short attack are ``minus_bench_attack`` (the
name kept from when it was the bench's).
"""
from __future__ import annotations

import argparse
import datetime
import pathlib
import sys
import time

import polydiff.core as pc
import torch
from polydiff.bench import robustness as bench
from polydiff.bench.machine import git_commit
from polydiff.bench.supplementary import write_document
from polydiff.robustness.attacks import attack_batches, make_attack, reseed
from polydiff.robustness.data import load_images
from polydiff.robustness.metrics import Accuracy, accuracy
from polydiff.robustness.purify import PurifiedClassifier, Purifier


def attacks(cfg: bench.BenchConfig, strong_steps: int, strong_eot: int, weak_steps: int, weak_eot: int,
            square: int = 0) -> dict:
    """The short EOT-PGD first, then the longer attacks (and Square with ``square`` queries);
    label -> factory(model, seed)."""
    eps = cfg.eps
    table = {
        f"EOT-PGD {weak_steps} steps x {weak_eot} draws (the former bench attack)":
            lambda m, s: make_attack("eotpgd", m, eps=eps, steps=weak_steps, eot_iter=weak_eot, seed=s),
        f"EOT-PGD {4 * strong_steps} steps x {strong_eot} draws":
            lambda m, s: make_attack("eotpgd", m, eps=eps, steps=4 * strong_steps, eot_iter=strong_eot, seed=s),
        f"APGD-CE {strong_steps} steps x {strong_eot} draws":
            lambda m, s: make_attack("apgd-ce", m, eps=eps, steps=strong_steps, eot_iter=strong_eot, seed=s),
        f"APGD-DLR {strong_steps} steps x {strong_eot} draws":
            lambda m, s: make_attack("apgd-dlr", m, eps=eps, steps=strong_steps, eot_iter=strong_eot, seed=s),
    }
    if square:  # score-based (Andriushchenko et al. 2020): what gradient masking cannot hide from
        table[f"Square {square} queries"] = lambda m, s: make_attack("square", m, eps=eps, steps=square, seed=s)
    return table


@torch.no_grad()
def _judge(model: torch.nn.Module, adv: torch.Tensor, y: torch.Tensor, draw: int, batch: int) -> torch.Tensor:
    reseed(model, 20_000 + draw)  # a purification draw no attack has seen
    return torch.cat([model(adv[i:i + batch]).argmax(-1) for i in range(0, len(adv), batch)]) == y


def _attack_and_judge(model, x, y, table: dict, seed: int, batch: int, draws: int):
    """Clean correctness ``[N]`` and, per attack, correctness ``[draws, N]`` of its adversarial
    examples under fresh purification draws (examples wrong when clean count as broken)."""
    model.eval()
    clean = _judge(model, x, y, -1, batch)
    idx = torch.nonzero(clean).flatten()
    judged = {}
    for label, factory in table.items():
        print(f"attack {label} on {len(idx)} examples", flush=True)
        adv = x.clone()
        for j, a in attack_batches(model, x, y, idx, factory, seed, batch):
            adv[j] = a
        judged[label] = torch.stack([_judge(model, adv, y, d, batch) & clean for d in range(draws)])
    return clean, judged


def _rows(table: dict, clean: torch.Tensor, judged: dict, draws: int) -> list:
    """(label, Accuracy) per reading; the first row is the short attack, one fresh draw."""
    labels = list(table)
    first = {a: judged[a][0] for a in labels}
    rows = [(f"{a}, one fresh draw", accuracy(first[a])) for a in labels]
    rows.append(("worst case over the attacks, one fresh draw each", accuracy(torch.stack(list(first.values())).all(0))))
    p = {a: judged[a].double().mean(0) for a in labels}  # per-example probability of a correct draw
    rows += [(f"{a}, mean over {draws} draws", _mean_accuracy(p[a])) for a in labels]
    rows.append((f"worst case over the attacks per example, mean over {draws} draws",
                 _mean_accuracy(torch.stack(list(p.values())).min(0).values)))
    rows.append((f"{labels[0]}, correct under all {draws} draws", accuracy(judged[labels[0]].all(0))))
    return rows


def _mean_accuracy(p: torch.Tensor) -> Accuracy:
    """Mean of per-example probabilities, with a 95% normal interval over examples."""
    n = p.numel()
    m = float(p.mean())
    se = float(p.std(unbiased=True)) / n ** 0.5 if n > 1 else 0.0
    return Accuracy(m, round(m * n), n, max(0.0, m - 1.96 * se), min(1.0, m + 1.96 * se), 0.95, "normal")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=tuple(bench.DATASET_LABELS), required=True)
    ap.add_argument("--defence", choices=("diffpure", "adv-trained", "undefended"), default="diffpure",
                    help="the DiffPure purifier, or the adversarially trained classifier as its baseline")
    ap.add_argument("--steps", type=int, default=5, help="DDPM steps of the purifier (its NFE)")
    ap.add_argument("--n", type=int, required=True, help="first N test images")
    ap.add_argument("--strong-steps", type=int, default=25, help="APGD iterations (EOT-PGD gets 4x)")
    ap.add_argument("--strong-eot", type=int, default=4, help="EOT draws per step of the longer attacks")
    ap.add_argument("--weak-steps", type=int, default=10, help="steps of the short EOT-PGD (the reference)")
    ap.add_argument("--weak-eot", type=int, default=2, help="EOT draws per step of the short EOT-PGD")
    ap.add_argument("--square", type=int, default=0, help="also Square with this many queries (0: none)")
    ap.add_argument("--batch", type=int, default=32, help="images per attack call")
    ap.add_argument("--draws", type=int, default=8, help="fresh purifications judging each adversarial example")
    ap.add_argument("--out", type=pathlib.Path, required=True, help="the robustness bench's folder (cache/)")
    ap.add_argument("--json", type=pathlib.Path, required=True, help="where to write the records")
    ap.add_argument("--threads", type=int, default=2)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    for name in ("steps", "n", "strong_steps", "strong_eot", "weak_steps", "weak_eot", "batch", "draws"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.square < 0:
        ap.error(f"--square must be >= 0, got {args.square}")
    (cfg,) = [c for c in bench.CONFIGS["full"] if c.dataset == args.dataset]
    torch.set_num_threads(args.threads)
    commit = git_commit()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    clf, adv, dm = bench._train_all(cfg, args.out / "cache", lambda s: print(s, flush=True))
    x, y = load_images(cfg.dataset, "test", args.n)
    if args.defence == "diffpure":
        purifier = Purifier(dm, pc.VP(), t_star=bench.PAPER_T_STAR, solver=cfg.solver, steps=args.steps,
                            gradient="full", image_shape=(1, 28, 28))
        model, nfe = PurifiedClassifier(purifier, clf), args.steps
        defence = f"polydiff-diffpure t*={bench.PAPER_T_STAR} {cfg.solver}-{args.steps}"
    elif args.defence == "adv-trained":
        model, nfe, defence = adv, None, "adv-trained (Madry PGD)"
    else:
        model, nfe, defence = clf, None, "undefended"
    table = attacks(cfg, args.strong_steps, args.strong_eot, args.weak_steps, args.weak_eot, args.square)
    setting = f"Linf eps={cfg.eps}, attack strength on {defence}"
    t1 = time.perf_counter()
    clean, judged = _attack_and_judge(model, x, y, table, cfg.seeds[0], args.batch, args.draws)
    seconds = time.perf_counter() - t1
    rows = _rows(table, clean, judged, args.draws)
    base = {"domain": bench.DOMAIN, "task": bench.TASK, "dataset": bench.DATASET_LABELS[cfg.dataset],
            "setting": setting, "metric": "robust_accuracy", "higher_is_better": True, "nfe": nfe,
            "seconds": seconds, "n": args.n, "seed": cfg.seeds[0], "draws": args.draws}
    bench_value = rows[0][1].value
    records = [{**base, "method": label, "value": acc.value, "ci_low": acc.low, "ci_high": acc.high,
                "attack": label, "minus_bench_attack": acc.value - bench_value} for label, acc in rows]
    c = accuracy(clean)
    records.append({**base, "method": "clean", "metric": "clean_accuracy", "value": c.value,
                    "ci_low": c.low, "ci_high": c.high, "attack": "none"})
    doc = write_document(args.json, domain=bench.DOMAIN, script="scripts/robustness_attack_strength.py",
                         argv=argv, commit=commit, started=started, duration_s=time.perf_counter() - t0,
                         records=records, torch_threads=torch.get_num_threads())
    for r in doc["records"]:
        print(f"{r['method']:<52} {r['metric']:<16} {r['value']:.4f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]")


if __name__ == "__main__":
    main()
