"""Hostile label files: every bad one is a LabelError naming the file (and
the line or record), never another exception; odd but valid ones read right."""

import pytest

from aesthetics.data.labels import read_labels
from aesthetics.errors import AestheticsError, ConfigError, InputNotFoundError, LabelError

import hostile_inputs as h

C = "image,mos,mos_std\n"
R = (0, 100)
AVA = "1 42 " + " ".join(["1"] * 10) + " 0 0 0"
J = '[{"image_id": "a", "label": [1,1,1,1,1,1,1,1,1,1]}]'

# name -> (text, score_range or format, needle in the message: "FILE:LINE" is added)
BAD = {
    "empty.csv": ("", None, ":1:"), "blank_lines.csv": ("  \n\n \t\n", None, "empty"),
    "header_only.csv": (C, R, ":2: no label rows"), "nan.csv": (C + "a.jpg,nan,1\n", R, ":2: MOS is nan"),
    "inf.csv": (C + "a.jpg,inf,1\n", R, ":2:"), "neg_std.csv": (C + "a.jpg,50,-1\n", R, ":2: std"),
    "nan_std.csv": (C + "a.jpg,50,nan\n", R, ":2:"), "out_of_range.csv": (C + "a.jpg,150,1\n", R, ":2:"),
    "no_range.csv": (C + "a.jpg,50,1\n", None, "--score-range"), "huge.csv": (C + "a.jpg,1e308,1\n", R, ":2:"),
    "overflow.csv": (C + "a.jpg,1e999,1\n", R, ":2:"), "digits.csv": (C + "a.jpg," + "9" * 100000 + ",1\n", R, ":2:"),
    "dup.csv": (C + "a.jpg,50,1\na.jpg,60,1\n", R, ":3: duplicate"), "dotdot.csv": (C + "../etc/passwd,50,1\n", R, "'..'"),
    "absolute.csv": (C + "/etc/passwd,50,1\n", R, "absolute"), "dotdot_inside.csv": (C + "x/../../y.jpg,50,1\n", R, "'..'"),
    "backslash.csv": (C + "..\\x.jpg,50,1\n", R, "backslash"), "drive.csv": (C + "C:x.jpg,50,1\n", R, "drive"),
    "empty_id.csv": (C + ",50,1\n", R, "missing image id"), "few_cols.csv": (C + "a.jpg,50\n", R, "columns"),
    "many_cols.csv": (C + "a.jpg,50,1,9\n", R, "columns"), "empty_mos.csv": (C + "a.jpg,,1\n", R, "cannot parse"),
    "text_mos.csv": (C + "a.jpg,good,1\n", R, "'good'"), "hex_mos.csv": (C + "a.jpg,0x10,1\n", R, "cannot parse"),
    "newline_id.csv": (C + '"a\nb.jpg",50,1\n', R, "control characters"),
    "nul_id.csv": (C + "a\x00b.jpg,50,1\n", R, "control characters"), "escape_id.csv": (C + "a\x1bb.jpg,50,1\n", R, "control"),
    "unclosed_quote.csv": (C + '"a.jpg,50,1\n', R, "columns"), "no_mos_column.csv": ("image,foo\na.jpg,1\n", None, "no mos column"),
    "binary.csv": (b"\x00\xff\xfe" + bytes(range(256)), None, "UTF-8"),
    "ava_negative.txt": ("1 42 " + " ".join(["-1"] * 10) + " 0 0 0\n", None, "negative"),
    "ava_zero.txt": ("1 42 " + " ".join(["0"] * 10) + " 0 0 0\n", None, "zero"),
    "ava_huge.txt": ("1 42 " + " ".join(["9" * 30] * 10) + " 0 0 0\n", None, ":1:"),
    "ava_14_fields.txt": ("1 42 " + " ".join(["1"] * 9) + " 0 0 0\n", "ava", "15"),
    "ava_float.txt": ("1 42 " + " ".join(["1.5"] * 10) + " 0 0 0\n", "ava", "'1.5'"),
    "ava_dup.txt": (AVA + "\n" + AVA.replace("1 42", "2 42", 1) + "\n", None, ":2: duplicate"),
    "ava_dotdot.txt": (AVA.replace(" 42 ", " ../x ") + "\n", "ava", "'..'"),
    "j_empty.json": ("", None, "empty"), "j_empty_list.json": ("[]", None, "empty"),
    "j_object.json": ('{"image_id": "a"}', None, "array"), "j_nan.json": (J.replace("[1,", "[NaN,"), None, "record 0"),
    "j_inf.json": (J.replace("[1,", "[Infinity,"), None, "record 0"),
    "j_bigint.json": (J.replace("[1,", "[" + "9" * 400 + ","), None, "record 0"),
    "j_negative.json": (J.replace("[1,", "[-1,"), None, "negative"), "j_bool.json": (J.replace("[1,", "[true,"), None, "record 0"),
    "j_string.json": (J.replace("[1,", '["1",'), None, "record 0"), "j_nine.json": (J.replace("[1,", "["), None, "9 values"),
    "j_id_bool.json": (J.replace('"a"', "true"), None, "image_id"), "j_id_float.json": (J.replace('"a"', "1.5"), None, "image_id"),
    "j_id_list.json": (J.replace('"a"', '["a"]'), None, "image_id"), "j_id_dotdot.json": (J.replace('"a"', '"../../x"'), None, "'..'"),
    "j_dup.json": (J[:-1] + ", " + J[1:], None, "record 1: duplicate"),
    "j_deep.json": ("[" * 100000 + "]" * 100000, None, "nested"), "j_truncated.json": (J[:25], None, "invalid JSON"),
    "j_binary.json": (b"\xff\xfe\x00junk", None, "UTF-8"), "j_null_record.json": ("[null]", None, "record 0"),
    "j_nested_label.json": (J.replace("[1,", "[[1],"), None, "record 0"),
    "t_nan.txt": ("nan i01_01_1.bmp\n", "tid2013", ":1:"), "t_three_fields.txt": ("5.1 i01 x\n", "tid2013", ":1:"),
    "t_out_of_range.txt": ("15 i01.bmp\n", "tid2013", ":1:"), "unknown.txt": ("hello world foo\n", None, "cannot detect"),
}

# name -> (text, score_range or format, expected ids, expected mean of the first row)
GOOD = {
    "bom.csv": ("\ufeff" + C + "a.jpg,50,10\n", R, ["a.jpg"], 5.5),
    "crlf.csv": ((C + "a.jpg,50,10\nb.jpg,60,5\n").replace("\n", "\r\n"), R, ["a.jpg", "b.jpg"], 5.5),
    "cr_only.csv": ((C + "a.jpg,50,10\n").replace("\n", "\r"), R, ["a.jpg"], 5.5),
    "quoted_comma.csv": (C + '"a,b.jpg",50,1\n', R, ["a,b.jpg"], 5.5),
    "semicolon.csv": ("image;mos\na.jpg;50\n", R, ["a.jpg"], 5.5), "tabs.tsv": ("image\tmos\na.jpg\t50\n", R, ["a.jpg"], 5.5),
    "spaces.csv": (C + "  a.jpg  ,50,1\n", R, ["a.jpg"], 5.5), "unicode.csv": (C + "ünï.jpg,50,1\n", R, ["ünï.jpg"], 5.5),
    "dmos_flipped.csv": (C + "a.jpg,0,1\n", (100, 0), ["a.jpg"], None),
    "ava_crlf.txt": (AVA + "\r\n", None, ["42"], 5.5), "ava_bom.txt": ("\ufeff" + AVA + "\n", None, ["42"], 5.5),
    "ava_int64_max.txt": ("1 42 " + " ".join(["9223372036854775807"] * 10) + " 0 0 0\n", None, ["42"], 5.5),
    "j_bom.json": ("\ufeff" + J, None, ["a"], 5.5), "j_extra_keys.json": (J.replace("]}", "], \"x\": {\"y\": 1}}"), None, ["a"], 5.5),
    "j_int_id.json": (J.replace('"a"', "42"), None, ["42"], 5.5),
}


def _write(tmp_path, name, text):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, newline="")
    return path


def _read(path, extra):
    if isinstance(extra, tuple):
        return read_labels(path, score_range=extra)
    return read_labels(path, fmt=extra or "auto")


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_label_file_is_one_label_error_naming_the_file(tmp_path, name):
    text, extra, needle = BAD[name]
    path = _write(tmp_path, name, text)
    with pytest.raises(LabelError) as e:
        _read(path, extra)
    message = str(e.value)
    assert message.startswith(str(path)) and needle in message and "\n" not in message


@pytest.mark.parametrize("name", sorted(GOOD))
def test_an_odd_but_valid_label_file_reads_right(tmp_path, name):
    text, extra, ids, mean = GOOD[name]
    table = _read(_write(tmp_path, name, text), extra)
    assert list(table["image_id"]) == ids
    if mean is not None:
        assert table["mean"][0] == pytest.approx(mean, abs=0.01)
    assert all(abs(d.sum() - 1) < 1e-5 for d in table["distribution"])


def test_a_flipped_score_range_puts_the_best_dmos_on_top(tmp_path):
    table = read_labels(_write(tmp_path, "d.csv", C + "a.jpg,0,1\nb.jpg,100,1\n"), score_range=(100, 0))
    assert table["mean"][0] > 9 and table["mean"][1] < 2


@pytest.mark.parametrize("score_range", [("a", "b"), (5, 5), (float("nan"), 100), (0, float("inf")), (0, 50, 100)])
def test_a_bad_score_range_is_a_config_error_naming_the_file(tmp_path, score_range):
    path = _write(tmp_path, "l.csv", C + "a.jpg,50,1\n")
    with pytest.raises(ConfigError, match="score range") as e:
        read_labels(path, score_range=score_range)
    assert str(path) in str(e.value)


def test_a_score_range_for_vote_counts_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="only applies to MOS"):
        read_labels(_write(tmp_path, "v.json", J), score_range=(0, 10))


def test_a_folder_or_a_missing_file_as_labels(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(LabelError, match="cannot read"):
        read_labels(tmp_path / "d.csv")
    with pytest.raises(InputNotFoundError, match="not found"):
        read_labels(tmp_path / "nope.csv")
    with pytest.raises(InputNotFoundError):  # also a FileNotFoundError, for library callers
        read_labels(tmp_path / "nope.txt")


def test_every_label_failure_is_an_aesthetics_error(tmp_path):
    """What the CLI prints as one line: the classes above, nothing else."""
    for name, (text, extra, _) in BAD.items():
        path = _write(tmp_path, name, text)
        with pytest.raises(AestheticsError):
            _read(path, extra)


@pytest.mark.parametrize("case", ["bad_row", "nan", "dotdot"])
def test_train_names_the_bad_label_line_in_one_line(tmp_path, capsys, case):
    images, _ = h.tiny_labelled_set(tmp_path, 2)
    text = {"bad_row": "image,mos\np0.jpg,50\np1.jpg,abc\n", "nan": "image,mos\np0.jpg,50\np1.jpg,nan\n",
            "dotdot": "image,mos\np0.jpg,50\n../p1.jpg,40\n"}[case]
    labels = _write(tmp_path, "bad.csv", text)
    result = h.run_cli(capsys, "train", "--images", images, "--labels", labels, "--output", tmp_path / "run",
                       *h.TINY_TRAIN, "--epochs", "1")
    h.assert_clear_error(result, f"{labels}:3:")
    assert not (tmp_path / "run" / "model.keras").exists()
