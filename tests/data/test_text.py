"""``data=text``: a user's text (a file or a folder of files) as char_lm's streams: contiguous
parts, the vocabulary of the training part with ``<unk>``, and bad files as one exact line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers.data_files import TEXT
from seqnet.data import build_task
from seqnet.data.tasks.text import UNKNOWN_SHOWN
from seqnet.errors import DataFileError


def task_at(path: Path, **keys):
    return build_task({"name": "text", "path": str(path), "batch_size": 4, "seq_len": 10, **keys})


def test_parts_vocabulary_and_unknown_characters(tmp_path: Path) -> None:
    text = TEXT + "ÆØÅ" * 20  # only in the test part
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    task = task_at(tmp_path / "corpus.txt", split=[0.8, 0.1, 0.1])
    n_train, n_val = round(0.8 * len(text)), round(0.9 * len(text)) - round(0.8 * len(text))
    vocabulary = task.vocabulary
    assert vocabulary.chars == "".join(sorted(set(text[:n_train])))
    assert task.spec.input_size == task.spec.output_size == len(vocabulary.chars) + 1
    assert task.saved_state() == {"vocabulary": vocabulary.chars}
    val = text[n_train : n_train + n_val]
    first = task.val_set().x[0]  # the first of 16 streams
    assert vocabulary.decode(first) == val[: len(first)]
    test = vocabulary.decode(task.test_set().x.flatten())
    assert "Æ" not in vocabulary.chars and test.endswith(UNKNOWN_SHOWN * 5)
    x, y = task.train_batch(0, 0)
    assert torch.equal(x[:, 1:], y[:, :-1])  # next-character targets
    assert task.continues_stream(1) and not task.continues_stream(0)


def test_a_folder_reads_its_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text(TEXT[1000:], encoding="utf-8")
    (tmp_path / "a.md").write_text(TEXT[:1000], encoding="utf-8")
    (tmp_path / ".hidden").write_text("ignored", encoding="utf-8")
    folder, whole = task_at(tmp_path), tmp_path / "whole.txt"
    assert folder.source_files() == [tmp_path / "a.md", tmp_path / "b" / "two.txt"]
    (tmp_path.parent / "whole.txt").write_text(TEXT, encoding="utf-8")
    one = task_at(tmp_path.parent / "whole.txt")
    assert torch.equal(folder.val_set().x, one.val_set().x)
    assert not whole.exists()


def error_of(path: Path, **keys) -> str:
    with pytest.raises(DataFileError) as e:
        task_at(path, **keys)
    return str(e.value)


def test_bad_text_is_one_line(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"first line\nsecond caf\xe9 line\n")
    assert error_of(latin) == (
        f"data.path: {latin}: is not UTF-8: byte 0xe9 at offset 21 (line 2); convert the file "
        "to UTF-8 (e.g. iconv -f latin1 -t utf-8) or remove that byte"
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert error_of(empty) == (
        f"data.path: {empty}: is empty: there is no text to model; give a UTF-8 text file or a "
        "folder of them"
    )
    short = tmp_path / "short.txt"
    short.write_text(TEXT[:400], encoding="utf-8")
    assert error_of(short, seq_len=30) == (
        f"data.path: {short} (400 characters): the validation text has 20 characters: too few "
        "for 16 evaluation streams and a window of data.seq_len=30 characters (it needs more "
        "than 30); give a longer text or a larger share of it to that part"
    )
    folder = tmp_path / "nothing"
    folder.mkdir()
    assert error_of(folder) == (
        f"data.path: {folder}: the folder holds no files; give a UTF-8 text file or a folder of "
        "them"
    )
