"""`polydiff conformers`: a saved pipeline applied to a SMILES or SDF file writes the pipeline's own
conformers as SDF records; unusable molecules are reported by line; bad flags are named."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from polydiff.bench.cli import main
from rdkit import Chem
from rdkit.Chem import AllChem

SMI = """# name after the SMILES, as .smi files have it
CCO ethanol
C1CC((N broken

C[C@H](N)O (S)-1-aminoethanol
[Ne] neon
C/C=C/C
"""
GOOD = ["CCO", "C[C@H](N)O", "C/C=C/C"]


def _read(path) -> list:
    return [m for m in Chem.SDMolSupplier(str(path), removeHs=False)]


def _run(argv: list[str]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(argv)


@pytest.fixture
def model(tmp_path, tiny_conformer_pipeline):
    pipe = tiny_conformer_pipeline()
    pipe.save_pretrained(tmp_path / "p")
    return pipe, str(tmp_path / "p")


def test_smiles_in_sdf_out_equals_the_pipelines_conformers(tmp_path, model, capsys, one_thread):
    pipe, folder = model
    (tmp_path / "mols.smi").write_text(SMI)
    out = tmp_path / "confs" / "out.sdf"
    code = _run(["conformers", "--model", folder, "--input", str(tmp_path / "mols.smi"), "--output", str(out),
                 "--n", "2", "--seed", "7", "--steps", "3", "--solver", "dpmpp_2m", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0 and "wrote 6 conformers of 3 molecules" in captured.out and "skipped 2" in captured.out
    assert ", line 3: invalid SMILES 'C1CC((N'" in captured.err and ", line 6: '[Ne]' has 1 atom" in captured.err
    records = _read(out)
    assert [m.GetProp("_Name") for m in records] == [
        "ethanol", "ethanol", "(S)-1-aminoethanol", "(S)-1-aminoethanol", "C/C=C/C", "C/C=C/C"]
    assert [m.GetIntProp("conformer") for m in records] == [0, 1] * 3
    assert [m.GetIntProp("input_line") for m in records] == [2, 2, 5, 5, 7, 7]
    # the pipeline's own output for the command's seed, steps and solver (SDF keeps 4 decimals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = pipe(GOOD, 2, seed=7, steps=3, solver="dpmpp_2m")
    want = [c.GetPositions() for m in want for c in m.GetConformers()]
    for rec, w in zip(records, want, strict=True):
        assert np.abs(rec.GetConformer().GetPositions() - w).max() <= 5.1e-5
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.sdf"]  # no temporary file left


def test_sdf_in_keeps_names_and_properties_and_batches_do_not_matter(tmp_path, model, one_thread):
    _, folder = model
    writer = Chem.SDWriter(str(tmp_path / "in.sdf"))
    for i, smi in enumerate(GOOD):
        m = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(m, randomSeed=1)
        m.SetProp("_Name", f"ligand-{i}" if i != 1 else "")
        m.SetProp("activity", str(i))
        writer.write(m)
    writer.close()
    outs = []
    for batch in ("1", "16"):
        outs.append(tmp_path / f"b{batch}.sdf")
        assert _run(["conformers", "--model", folder, "--input", str(tmp_path / "in.sdf"), "--output", str(outs[-1]),
                     "--batch-size", batch, "--no-progress"]) == 0
    one, all_ = _read(outs[0]), _read(outs[1])
    assert len(one) == 9  # the pipeline's default of 3 conformers per molecule
    assert [m.GetProp("_Name") for m in one[::3]] == ["ligand-0", "record2", "ligand-2"]
    assert [m.GetProp("activity") for m in one[::3]] == ["0", "1", "2"]
    assert [m.GetIntProp("input_record") for m in one[::3]] == [1, 2, 3]
    for a, b in zip(one, all_, strict=True):
        assert np.abs(a.GetConformer().GetPositions() - b.GetConformer().GetPositions()).max() <= 1.01e-4


def test_strict_refuses_and_a_crash_leaves_no_output(tmp_path, model, monkeypatch):
    _, folder = model
    (tmp_path / "mols.smi").write_text(SMI)
    out = tmp_path / "out.sdf"
    with pytest.raises(SystemExit, match=r"(?s)--input .*mols\.smi: 2 unusable molecules \(--strict\):\n"
                                         r"line 3: invalid SMILES"):
        _run(["conformers", "--model", folder, "--input", str(tmp_path / "mols.smi"), "--output", str(out),
              "--strict"])
    assert not out.exists()
    out.write_text("the previous result\n")
    from polydiff.molecules.pipelines import ConformerPipeline

    real = ConformerPipeline.__call__

    def crash_on_second_batch(self, mols, *args, first_index=0, **kwargs):
        if first_index > 0:
            raise RuntimeError("out of memory")
        return real(self, mols, *args, first_index=first_index, **kwargs)

    monkeypatch.setattr(ConformerPipeline, "__call__", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="out of memory"):
        _run(["conformers", "--model", folder, "--input", str(tmp_path / "mols.smi"), "--output", str(out),
              "--batch-size", "1", "--no-progress"])
    assert out.read_text() == "the previous result\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_bad_flags_are_named(tmp_path, model, capsys):
    _, folder = model
    (tmp_path / "mols.smi").write_text("CCO\n")
    base = ["conformers", "--model", folder, "--input", str(tmp_path / "mols.smi"), "--output",
            str(tmp_path / "o.sdf")]
    for flag, value in [("--n", "0"), ("--steps", "-1"), ("--seed", "x"), ("--solver", "rk99"),
                        ("--batch-size", "0")]:
        with pytest.raises(SystemExit) as info:
            main([*base, flag, value])
        assert info.value.code == 2 and flag in capsys.readouterr().err
    from polydiff.molecules.commands import DEFAULT_CONFORMER_MODEL
    if DEFAULT_CONFORMER_MODEL is None:  # nothing ships: --model is required (else tests/test_shipped_pipelines.py)
        with pytest.raises(SystemExit) as info:
            main(["conformers", "--input", str(tmp_path / "mols.smi"), "--output", str(tmp_path / "o.sdf")])
        assert info.value.code == 2 and "--model" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"--output .*o\.csv: expected an SDF file"):
        main([*base[:-1], str(tmp_path / "o.csv")])
    with pytest.raises(SystemExit, match=r"--input .*nowhere\.smi: no such file"):
        main([*base[:4], str(tmp_path / "nowhere.smi"), *base[5:]])
    (tmp_path / "mols.csv").write_text("CCO\n")
    with pytest.raises(SystemExit, match=r"--input .*mols\.csv: unknown molecule file type '\.csv'"):
        main([*base[:4], str(tmp_path / "mols.csv"), *base[5:]])
    (tmp_path / "bad.smi").write_text("C1CC((\n")
    with pytest.raises(SystemExit, match=r"--input .*bad\.smi: no usable molecule"):
        main([*base[:4], str(tmp_path / "bad.smi"), *base[5:]])
    with pytest.raises(SystemExit, match=r"(?s)--model .*nowhere.*pass --model DIR"):
        main([*base[:2], str(tmp_path / "nowhere"), *base[3:]])
    with pytest.raises(SystemExit, match=r"--steps 500 / --solver ddim: .*"):
        main([*base, "--steps", "500"])  # more steps than the process's 200 timesteps
    if not __import__("torch").cuda.is_available():
        with pytest.raises(SystemExit, match="--device cuda: no CUDA device"):
            main([*base, "--device", "cuda"])
    assert not (tmp_path / "o.sdf").exists()
