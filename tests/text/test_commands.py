"""`polydiff text`: a saved pipeline applied from the command line writes the pipeline's own
texts, line for line; bad arguments end with a message naming the flag."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from polydiff.bench.cli import main
from polydiff.text.commands import as_line, line_generators, read_sources, write_lines

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_text_pipelines import small_tokenizer, tiny_ar_pipe, tiny_pipe

LINES = ["name : The Vaults | food : Italian", "", "name :  Zizzi |\tarea : riverside", "eatType : pub"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    pipe = tiny_pipe(small_tokenizer())
    folder = tmp_path_factory.mktemp("pipe") / "p"
    pipe.save_pretrained(folder)
    return pipe, folder


def _run(folder, inp, out, *extra) -> int:
    return main(["text", "--model", str(folder), "--input", str(inp), "--output", str(out), "--no-progress",
                 *extra])


def test_text_writes_the_pipelines_texts_line_for_line(tmp_path, saved, one_thread):
    pipe, folder = saved
    inp = tmp_path / "sources.txt"
    inp.write_text("\r\n".join(LINES) + "\r\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    assert _run(folder, inp, out, "--seed", "7", "--steps", "3", "--solver", "ancestral", "--batch-size", "2") == 0
    got = out.read_text(encoding="utf-8").split("\n")
    assert got[-1] == "" and len(got) - 1 == len(LINES)  # one line per input line, newline-terminated
    sources = read_sources(inp)
    assert sources[2] == "name : Zizzi | area : riverside" and sources[1] == ""
    # the pipeline itself, called with the command's seed per line, steps and solver
    rows = [0, 2, 3]
    want = pipe([sources[i] for i in rows], steps=3, solver="ancestral", generator=line_generators(7, rows))
    assert got[:-1] == [as_line(want[0]), "", as_line(want[1]), as_line(want[2])]
    # the batch size does not change a line's text; the seed does
    again = tmp_path / "again.txt"
    assert _run(folder, inp, again, "--seed", "7", "--steps", "3", "--solver", "ancestral", "--batch-size", "1") == 0
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
    other = tmp_path / "other.txt"
    assert _run(folder, inp, other, "--seed", "8", "--steps", "3", "--solver", "ancestral") == 0
    assert other.read_text(encoding="utf-8") != out.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.txt", "other.txt", "out.txt", "sources.txt"]


def test_text_names_the_flag_at_fault(tmp_path, saved, capsys):
    _, folder = saved
    inp = tmp_path / "in.txt"
    inp.write_text("eatType : pub\n" + " ".join(["Zizzi"] * 40) + "\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    with pytest.raises(SystemExit, match=r"--input .*in\.txt line 2: the source has \d+ tokens, the model takes "
                                         r"at most 31 \(pass --truncate"):
        _run(folder, inp, out)
    assert not out.exists()
    assert _run(folder, inp, out, "--truncate", "--steps", "2") == 0
    assert len(out.read_text().split("\n")) == 3
    with pytest.raises(SystemExit, match="--input .*nowhere.txt: no such file"):
        _run(folder, tmp_path / "nowhere.txt", out)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(SystemExit, match="--input .*latin1.txt: cannot read it as UTF-8"):
        _run(folder, tmp_path / "latin1.txt", out)
    with pytest.raises(SystemExit, match="--output .*: must be a file in an existing folder"):
        _run(folder, inp, tmp_path / "no" / "out.txt")
    with pytest.raises(SystemExit, match="(?s)--model .*nowhere.*pass --model DIR"):
        _run(tmp_path / "nowhere", inp, out)
    for flags, name in ((["--solver", "ddim"], "--solver"), (["--steps", "0"], "--steps"),
                        (["--batch-size", "x"], "--batch-size"), (["--temperature", "-1"], "--temperature"),
                        (["--seed", "-3"], "--seed")):
        with pytest.raises(SystemExit) as info:
            _run(folder, inp, out, *flags)
        assert info.value.code == 2 and f"argument {name}" in capsys.readouterr().err
    # without --model the shipped pipeline (DEFAULT_TEXT_MODEL) is applied: its own source limit
    with pytest.raises(SystemExit, match=r"--input .*in\.txt line 2: the source has \d+ tokens"):
        main(["text", "--input", str(inp), "--output", str(out)])


def test_write_lines_leaves_no_partial_file(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old\n")
    with pytest.raises(TypeError):
        write_lines(out, ["ok", 3])  # fails half-way: the old file stays, no temporary left
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    write_lines(out, ["a", "b"])
    assert out.read_text() == "a\nb\n"
    assert as_line("one\ntwo\r\nthree\u2028four") == "one two  three four"


def test_text_applies_an_autoregressive_pipeline(tmp_path, saved, capsys, one_thread):
    ar = tiny_ar_pipe(saved[0].tokenizer)
    ar.save_pretrained(tmp_path / "ar")
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(LINES), encoding="utf-8")  # no final newline: the last line still counts
    out = tmp_path / "out.txt"
    assert _run(tmp_path / "ar", inp, out, "--seed", "3", "--batch-size", "3") == 0
    rows = [0, 2, 3]
    want = ar([read_sources(inp)[i] for i in rows], generator=line_generators(3, rows))
    assert out.read_text(encoding="utf-8") == "".join(as_line(t) + "\n" for t in [want[0], "", *want[1:]])
    with pytest.raises(SystemExit, match="--steps: .* is an autoregressive pipeline"):
        _run(tmp_path / "ar", inp, out, "--steps", "4")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_text_on_cuda(tmp_path, saved):
    _, folder = saved
    inp = tmp_path / "in.txt"
    inp.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    for solver in ("confidence", "ancestral"):
        out = tmp_path / f"{solver}.txt"
        assert _run(folder, inp, out, "--device", "cuda", "--steps", "3", "--solver", solver) == 0
        assert len(out.read_text(encoding="utf-8").split("\n")) == len(LINES) + 1
