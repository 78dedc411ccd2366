"""The command line: import, info, models, backends; user mistakes give one line and exit 2."""

from __future__ import annotations

import json

import pytest

from pysr.cli import main


def test_import_and_info(shared, tmp_path, capsys):
    out = tmp_path / "x3.pysr"
    assert main(["import", str(shared / "weights/espcn_x3_yjn870/espcn_x3.pth"), "--arch", "espcn",
                 "--licence", "none (local testing only)", "-o", str(out)]) == 0
    assert main(["info", str(out), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert facts["scale"] == 3 and facts["provenance"]["importer"] == "espcn/auto"
    assert main(["info", str(out)]) == 0
    assert "conv2d" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["info", "/nonexistent.pysr"], "cannot read"),
    (["import", "/nonexistent.pth", "--arch", "espcn", "-o", "/tmp/x.pysr"], "nonexistent"),
    (["import", __file__, "--arch", "nosuch", "-o", "/tmp/x.pysr"], "unknown architecture"),
])
def test_user_errors_exit_2_with_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_bad_model_file(tmp_path, capsys):
    bad = tmp_path / "bad.pysr"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    assert main(["info", str(bad)]) == 2
    assert "not valid UTF-8 JSON" in capsys.readouterr().err


def test_backends_lists_cpu(capsys):
    assert main(["backends"]) == 0
    assert "cpu" in capsys.readouterr().out
