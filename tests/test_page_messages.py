"""What a user reads: messages check the inputs first and name every missing weight at once, one quick Hub check
decides offline mode for a whole run, the page's messages keep URLs whole, the CLI prints each step once, and a
failed ``random-weights`` leaves nothing behind."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from vton import methods, weights
from vton.errors import InputError, WeightsError
from vton.web import messages, readiness

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


@pytest.fixture
def unreachable_hub(monkeypatch, offline_hub):
    """HF_HUB_OFFLINE not set, but the Hub cannot be reached: every connect fails at once and is counted."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(weights.hub, "_hub_mode", {"mode": None})
    calls = []

    def refuse(addr, timeout=None, *args, **kwargs):
        calls.append(addr)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return calls


def test_a_text_file_as_person_is_not_an_image_before_any_weights_message(offline_hub, tmp_path):
    from vton.pipeline import TryOnPipeline

    text = tmp_path / "person.png"
    text.write_text("this is not a picture")
    pipe = TryOnPipeline("cp-vton", weights_dir=tmp_path / "no-weights")
    with pytest.raises(InputError, match="not an image"):
        pipe(text, EX / "cloth_tshirt.png")


def test_every_missing_weight_is_named_at_once(offline_hub, tmp_path):
    from vton.pipeline import TryOnPipeline

    card = methods.card("cp-vton")
    pipe = TryOnPipeline("cp-vton", weights_dir=tmp_path / "no-weights")
    with pytest.raises(WeightsError) as err:
        pipe(EX / "person.png", EX / "cloth_tshirt.png")  # no pose JSON, no parse PNG, no weights, offline
    msg = str(err.value)
    for _, key in card.weights:
        assert key in msg
    assert "openpose/body" in msg and "schp/lip" in msg and "avoid the download" in msg
    assert msg.count("python -m vton convert") == 1  # one command for the method's networks, not one per file


def test_one_quick_hub_check_decides_offline_mode_for_the_whole_run(unreachable_hub, tmp_path, capsys):
    from vton.cli import main

    out = tmp_path / "pre"
    rc = main(["preprocess", "--person", str(EX / "person.png"), "--cloth", str(EX / "cloth_tshirt.png"),
               "--method", "cp-vton", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "openpose/body" in err and "schp/lip" in err
    assert "unset HF_HUB_OFFLINE" not in err and "cannot be reached" in err
    assert len(unreachable_hub) == 1  # one connect; huggingface_hub is then offline too, so nothing retries
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    assert weights.hub_mode() == "unreachable" and len(unreachable_hub) == 1


def test_page_messages_keep_urls_and_repo_names_and_cut_server_paths():
    url = "https://github.com/minar09/cp-vton-plus"
    hub = "https://huggingface.co/lllyasviel/Annotators/blob/982e7edaec38759d914a963c48c4726685de7d96/body_pose_model.pth"
    exc = WeightsError(f"see {url} and {hub}; Hub repo vton-lab/cp-vton-plus, file gmm_final.safetensors; the local "
                       "file /tmp/xyz/weights/cp-vton-plus/gmm_final.safetensors does not exist; press *Run try-on*; "
                       "the photo is 4.5 times longer than wide (MAX_ASPECT)")
    msg = messages.user_message(exc)
    assert url in msg and hub in msg and "vton-lab/cp-vton-plus" in msg
    assert "/tmp/" not in msg and "gmm_final.safetensors does not exist" in msg
    assert "*Run try-on*" in msg  # Markdown stays Markdown: the page renders it
    assert "MAX_ASPECT" not in msg and "longer than wide" in msg


def test_short_reason_is_the_first_clause():
    msg = ("CP-VTON needs 2 weight files that cannot be had now (cp-vton/gmm, cp-vton/tom; not in the local weights "
           "folder w). cp-vton/gmm: not on the Hub yet")
    assert messages.first_clause(msg) == "CP-VTON needs 2 weight files that cannot be had now"


def test_readiness_is_one_line_per_method_with_why_and_licence(offline_hub, tmp_path):
    rows = readiness.method_table(tmp_path)
    lines = readiness.readiness_lines(rows)
    assert len(lines) == len(methods.cards())
    for card, line in zip(methods.cards(), lines, strict=True):
        assert line.startswith(f"{card.title}: ") and "licence: " in line and "\n" not in line
        if card.weights:
            names = ", ".join(name for name, _ in card.weights)
            assert f"not ready: weights {names} missing" in line
        else:
            assert "ready (training-free" in line
    banner = readiness.readiness_banner(rows)
    assert "How to get the weights" in banner and "convert" not in banner
    assert banner.count("\n- ") + banner.startswith("- ") == len(rows)


def test_cli_prints_each_step_once(tmp_path, capsys):
    from vton.cli import main

    rc = main(["tryon", "--method", "geometric", "--person", str(EX / "geometric_person.png"),
               "--cloth", str(EX / "geometric_cloth.png"), "--pose", str(EX / "geometric_person_keypoints.json"),
               "--parse", str(EX / "geometric_person_parse.png"), "--cloth-mask", str(EX / "geometric_cloth_mask.png"),
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    steps = [line.split("] ", 1)[1] for line in err.splitlines() if line.strip().startswith("[")]
    assert rc == 0 and steps and len(steps) == len(set(steps))
    assert err.count("paste_back") == 1


def test_random_weights_without_onnx_fails_before_writing_anything(monkeypatch, tmp_path, capsys):
    from vton.cli import main

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if onnx were not installed
    out = tmp_path / "w"
    rc = main(["random-weights", str(out), "--methods", "pf-afn", "--estimators"])
    assert rc == 2 and "onnx" in capsys.readouterr().err
    assert not out.exists()


def test_geometric_declares_its_point_table_and_its_run_lists_the_pairs():
    from vton.pipeline import TryOnPipeline
    from vton.web import edits

    table = methods.card("geometric").point_table
    assert table is not None
    result = TryOnPipeline("geometric")(EX / "geometric_person.png", EX / "geometric_cloth.png",
                                         pose=EX / "geometric_person_keypoints.json",
                                         parsing=EX / "geometric_person_parse.png",
                                         cloth_mask=EX / "geometric_cloth_mask.png")
    summary = result.summary()
    headers, rows = edits.control_point_rows(summary, table.key)
    assert len(rows) == summary["data"]["pairs"] > 0
    assert {"garment_x", "garment_y", "person_x", "person_y"} <= set(headers)


def test_study_on_random_weights_says_so(tmp_path):
    import importlib.util

    from vton.tools.random_weights import write_random_weights

    write_random_weights(tmp_path, methods=["pf-afn"], seed=0, **methods.card("pf-afn").test_overrides)
    spec = importlib.util.spec_from_file_location("vton_app", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    notice = app.random_weights_notice(["geometric", "pf-afn"], str(tmp_path))
    assert "RANDOM" in notice and "PF-AFN" in notice and "Geometric" not in notice
    assert app.random_weights_notice(["geometric"], str(tmp_path)) == ""
