"""The user-study logic (vton.study): definitions, cached renders, blinded schedules, atomic results, win rates."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import multiprocessing
import re
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vton import study as st
from vton.errors import InputError

METHODS = ["alphamethod", "betamethod", "gammamethod"]


def _png(path: Path, color: tuple[int, int, int], size=(48, 64)) -> Path:
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).rectangle((8, 8, 30, 40), fill=(255 - color[0], 128, color[2]))
    img.save(path)
    return path


@pytest.fixture
def files(tmp_path) -> Path:
    """A folder with three person/garment pairs, a pose file and an attention-check photo."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        _png(src / f"person{i}.png", (40 * i, 60, 90))
        _png(src / f"garment{i}.png", (200, 30 * i, 10))
    (src / "person0_keypoints.json").write_text('{"people": []}')
    yy, xx = np.mgrid[0:64, 0:64]
    Image.fromarray(np.stack([xx * 4, yy * 4, (xx + yy) * 2], -1).astype(np.uint8)).save(src / "real.png")
    return src


def _definition(**over) -> dict:
    d = {"id": "realism-1", "question": "Which looks more realistic?", "methods": list(METHODS),
         "pairs": [{"id": f"pair{i}", "person": f"person{i}.png", "garment": f"garment{i}.png"} for i in range(3)],
         "attention_checks": [{"id": "check1", "image": "real.png"}], "trials_per_participant": 7}
    d["pairs"][0]["annotations"] = {"pose": "person0_keypoints.json"}
    d.update(over)
    return d


@pytest.fixture
def study(files) -> st.Study:
    return st.study_from_dict(_definition(), base_dir=files)


class FakeRender:
    """Draws a distinct image per (pair, method) and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, pair: st.Pair, method: str) -> Image.Image:
        self.calls.append((pair.id, method))
        h = hashlib.sha256(f"{pair.id}/{method}".encode()).digest()
        img = Image.open(pair.person).convert("RGB")
        ImageDraw.Draw(img).ellipse((4, 4, 40, 40), fill=tuple(h[:3]))
        return img


@pytest.fixture
def prepared(study, tmp_path) -> st.PreparedStudy:
    return st.prepare_study(study, FakeRender(), tmp_path / "folder")


# ---------------------------------------------------------------------------------------------------------------
# definitions


def test_definition_resolves_relative_paths_and_defaults_to_every_comparison(files):
    s = st.study_from_dict(_definition(trials_per_participant=None), base_dir=files)
    assert s.id == "realism-1" and s.methods == tuple(METHODS)
    assert s.pairs[0].person == (files / "person0.png").resolve()
    assert s.pairs[0].annotations == {"pose": (files / "person0_keypoints.json").resolve()}
    assert s.attention_checks == (st.AttentionCheck("check1", (files / "real.png").resolve(), None),)
    assert s.comparisons == 3 * 3 and s.trials_per_participant == 9 and s.trials_total == 10
    assert s.exclude_below == 1.0


def test_the_examples_in_the_docs_define_the_same_study(tmp_path):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "study.md").read_text()
    blocks: dict[str, str] = {}
    for kind, text in re.findall(r"```(json|csv)\n(.*?)```", doc, flags=re.S):
        blocks.setdefault(kind, text)  # the first of each: the study file
    data = json.loads(blocks["json"])
    paths = [v for p in data["pairs"] for v in (p["person"], p["garment"], *p.get("annotations", {}).values())]
    paths += [v for c in data["attention_checks"] for v in (c["image"], c.get("corrupted")) if v]
    for rel in paths:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "study.json").write_text(blocks["json"])
    (tmp_path / "study.csv").write_text(blocks["csv"])
    s = st.load_study(tmp_path / "study.json")
    assert s == st.load_study(tmp_path / "study.csv")
    assert s.methods == ("cp-vton", "cp-vton+") and len(s.pairs) == 2 and s.trials_total == 4


def test_json_and_csv_files_define_the_same_study(files):
    (files / "study.json").write_text(json.dumps(_definition()))
    (files / "study.csv").write_text(
        "# id: realism-1\n# question: Which looks more realistic?\n"
        f"# methods: {', '.join(METHODS)}\n# trials_per_participant: 7\n"
        "kind,id,person,garment,pose,image\n"
        "pair,pair0,person0.png,garment0.png,person0_keypoints.json,\n"
        "pair,pair1,person1.png,garment1.png,,\n"
        ",pair2,person2.png,garment2.png,,\n"
        "check,check1,,,,real.png\n")
    assert st.load_study(files / "study.json") == st.load_study(files / "study.csv")


@pytest.mark.parametrize("over, message", [
    ({"colour": "red"}, "unknown field(s) 'colour'"),
    ({"methods": ["alphamethod"]}, "at least 2 methods, got 1"),
    ({"methods": ["alphamethod", "betamethod", "alphamethod"]}, "duplicate method id(s) 'alphamethod'"),
    ({"methods": ["alpha method", "betamethod"]}, "'alpha method' is not a valid id"),
    ({"methods": ["@original", "betamethod"]}, "'@original' is not a valid id"),
    ({"pairs": [{"id": "a", "person": "person0.png", "garment": "nowhere.png"}]}, "nowhere.png' does not exist"),
    ({"pairs": [{"id": "a", "person": "person0.png"}]}, "missing field(s) 'garment'"),
    ({"pairs": [{"id": "a", "person": "person0.png", "garment": "garment0.png", "shoes": "x"}]}, "'shoes'"),
    ({"pairs": [{"id": "a", "person": "person0.png", "garment": "garment0.png", "annotations": {"parse": "x"}}]},
     "unknown field(s) 'parse'; allowed: pose, parsing, cloth_mask"),
    ({"pairs": [{"id": "a", "person": "person0.png", "garment": "garment0.png"}] * 2}, "duplicate pair"),
    ({"attention_checks": [{"id": "pair1", "image": "real.png"}]}, "duplicate pair/attention-check id(s) 'pair1'"),
    ({"pairs": []}, "non-empty list"),
    ({"trials_per_participant": 10}, "from 1 to 9"),
    ({"trials_per_participant": 0}, "from 1 to 9"),
    ({"exclude_below": 1.5}, "from 0 to 1"),
    ({"question": " "}, "question"),
    ({"id": None}, "missing field(s) 'id'"),
])
def test_invalid_definitions_are_refused_with_the_field_named(files, over, message):
    with pytest.raises(InputError) as e:
        st.study_from_dict(_definition(**over), base_dir=files)
    assert message in str(e.value)


@pytest.mark.parametrize("name, text, message", [
    ("s.json", "{nope", "not valid JSON"),
    ("s.yaml", "id: x", "expected a .json or .csv file"),
    ("s.csv", "# colour: red\nid,person,garment\n", "'# key: value'"),
    ("s.csv", "id,person,garment,shoe\n", "unknown: 'shoe'"),
    ("s.csv", "# id: x\n# question: q?\n# methods: a, b\nkind,id,person,garment,image\n"
              "pair,p,person0.png,garment0.png,real.png\n", "a pair row leaves image empty"),
    ("s.csv", "# id: x\n# question: q?\n# methods: a, b\nkind,id,person,garment\nsock,p,person0.png,garment0.png\n",
     "kind must be 'pair' or 'check'"),
])
def test_invalid_study_files_are_refused(files, name, text, message):
    (files / name).write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        st.load_study(files / name)


# ---------------------------------------------------------------------------------------------------------------
# rendering once


def test_prepare_renders_each_pair_and_method_once_into_content_addressed_files(study, tmp_path):
    render = FakeRender()
    prep = st.prepare_study(study, render, tmp_path / "folder")
    assert sorted(render.calls) == sorted(itertools.product([p.id for p in study.pairs], METHODS))
    assert set(prep.images) == set(render.calls)
    for path in prep.images.values():
        assert path.parent == tmp_path / "folder" / "images"
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest()[:20] + ".png"
    assert len({p.name for p in prep.images.values()}) == 9  # distinct images
    # a restarted server renders nothing again, with or without a renderer
    again = FakeRender()
    assert st.prepare_study(study, again, tmp_path / "folder").images == prep.images and again.calls == []
    assert st.prepare_study(study, None, tmp_path / "folder").images == prep.images


def test_a_changed_input_is_rendered_again_and_only_it(study, files, tmp_path):
    st.prepare_study(study, FakeRender(), tmp_path / "folder")
    _png(files / "garment1.png", (1, 2, 3))
    render = FakeRender()
    st.prepare_study(study, render, tmp_path / "folder")
    assert sorted(render.calls) == [("pair1", m) for m in sorted(METHODS)]


def test_prepare_without_renderer_names_the_missing_images(study, tmp_path):
    with pytest.raises(InputError, match=r"9 result image\(s\) were never rendered .*pair0/alphamethod"):
        st.prepare_study(study, None, tmp_path / "empty")


def test_render_must_return_an_image(study, tmp_path):
    with pytest.raises(InputError, match="render must return a PIL image, got ndarray"):
        st.prepare_study(study, lambda pair, method: np.zeros((4, 4, 3)), tmp_path / "folder")


def test_attention_check_gets_a_visibly_corrupted_copy_unless_one_is_given(files, tmp_path):
    prep = st.prepare_study(st.study_from_dict(_definition(), files), FakeRender(), tmp_path / "a")
    good, bad = prep.checks["check1"]
    a, b = np.asarray(Image.open(good), np.float32), np.asarray(Image.open(bad), np.float32)
    assert a.shape == b.shape and np.abs(a - b).mean() > 20  # scrambled blocks, not a subtle change
    assert sorted(a.reshape(-1).tolist()) == sorted(b.reshape(-1).tolist())  # the same pixels, moved
    given = _definition(attention_checks=[{"id": "check1", "image": "real.png", "corrupted": "person2.png"}])
    prep = st.prepare_study(st.study_from_dict(given, files), FakeRender(), tmp_path / "b")
    assert np.array_equal(np.asarray(Image.open(prep.checks["check1"][1])),
                          np.asarray(Image.open(files / "person2.png").convert("RGB")))


# ---------------------------------------------------------------------------------------------------------------
# schedules


def test_schedule_is_the_same_for_the_same_participant_and_differs_between_participants(study):
    a = st.schedule(study, "participant-a")
    assert a == st.schedule(study, "participant-a")
    assert a != st.schedule(study, "participant-b")
    assert st.participant_seed("realism-1", "participant-a") == int.from_bytes(
        hashlib.sha256(b"realism-1\nparticipant-a").digest()[:8], "big")
    assert [t.index for t in a] == list(range(study.trials_total))


@pytest.mark.parametrize("n_methods, n_trials", [(3, 7), (3, 9), (4, 11), (4, 18), (2, 3), (5, 30)])
def test_schedule_counterbalances_sides_and_method_pairs(files, n_methods, n_trials):
    methods = [f"m{i}" for i in range(n_methods)]
    s = st.study_from_dict(_definition(methods=methods, trials_per_participant=n_trials), files)
    for participant in (f"p{i:04d}" for i in range(40)):
        trials = [t for t in st.schedule(s, participant) if not t.attention_check]
        assert len(trials) == n_trials
        assert len({(t.pair, frozenset((t.left, t.right))) for t in trials}) == n_trials  # no comparison twice
        per_pair = Counter(frozenset((t.left, t.right)) for t in trials)
        assert len(per_pair) == min(n_trials, len(list(itertools.combinations(methods, 2))))
        assert max(per_pair.values()) - min(per_pair.values()) <= 1
        for a, b in itertools.combinations(methods, 2):
            a_left = sum(1 for t in trials if (t.left, t.right) == (a, b))
            b_left = sum(1 for t in trials if (t.left, t.right) == (b, a))
            assert abs(a_left - b_left) <= 1, (participant, a, b, a_left, b_left)


def test_every_comparison_appears_once_when_a_participant_makes_them_all(files):
    s = st.study_from_dict(_definition(trials_per_participant=None), files)
    trials = [t for t in st.schedule(s, "everything") if not t.attention_check]
    assert sorted((t.pair, *sorted((t.left, t.right))) for t in trials) == sorted(
        (p, a, b) for p in ("pair0", "pair1", "pair2") for a, b in itertools.combinations(METHODS, 2))


def test_attention_checks_are_interleaved_never_first_with_the_intact_image_on_alternating_sides(files):
    checks = [{"id": f"check{i}", "image": "real.png"} for i in range(4)]
    s = st.study_from_dict(_definition(attention_checks=checks), files)
    sides = Counter()
    for participant in (f"p{i:04d}" for i in range(30)):
        trials = st.schedule(s, participant)
        found = [t for t in trials if t.attention_check]
        assert sorted(t.pair for t in found) == [f"check{i}" for i in range(4)]
        assert trials[0].attention_check is False
        for t in found:
            intact = t.left if t.correct == "left" else t.right
            assert intact == st.CHECK_ORIGINAL and {t.left, t.right} == {st.CHECK_ORIGINAL, st.CHECK_CORRUPTED}
        assert Counter(t.correct for t in found) == {"left": 2, "right": 2}
        sides.update(t.index for t in found)
    assert len(sides) > 4  # not always at the same positions


def test_participant_ids(monkeypatch):
    ids = {st.new_participant_id() for _ in range(50)}
    assert len(ids) == 50 and all(st.validate_participant_id(i) == i for i in ids)
    for bad in ("", "abc", "a/b/c/d", "x" * 65, "<script>"):
        with pytest.raises(InputError, match="participant link is malformed"):
            st.validate_participant_id(bad)


def test_participant_view_is_blinded(prepared):
    study = prepared.study
    secret = [*study.methods, *(p.id for p in study.pairs), "check1", "@original", "@corrupted"]
    trials = st.schedule(study, "blind-participant")
    shown = set()
    for trial in trials:
        view = st.participant_view(prepared, trial)
        sent = json.dumps(dataclasses.asdict(view), default=str) + view.progress_text
        assert not [s for s in secret if s in sent], sent
        assert f"Trial {trial.index + 1} of {study.trials_total}" == view.progress_text
        for path in (view.left_image, view.right_image):
            assert not [s.encode() for s in secret if s.encode() in path.read_bytes()]
        shown.add((view.left_image, view.right_image))
        left, right = prepared.trial_images(trial)
        assert (view.left_image, view.right_image) == (left, right)
    assert len(shown) == len(trials)
    done = st.participant_view(prepared, None)
    assert done.done and done.left_image is None and done.progress_text == "All done"


def test_trial_images_follow_the_sides(prepared):
    trial = st.Trial(0, "pair1", "gammamethod", "alphamethod")
    assert prepared.trial_images(trial) == (prepared.images[("pair1", "gammamethod")],
                                            prepared.images[("pair1", "alphamethod")])
    good, bad = prepared.checks["check1"]
    assert prepared.trial_images(st.Trial(1, "check1", st.CHECK_CORRUPTED, st.CHECK_ORIGINAL, True, "right")) == (
        bad, good)


# ---------------------------------------------------------------------------------------------------------------
# results


def test_an_answer_records_every_field(study):
    trial = st.Trial(4, "pair2", "gammamethod", "alphamethod")
    rec = st.make_answer(study, "pp-1234", trial, "right", 3.14159, now=1_700_000_000.25)
    assert rec == {"study": "realism-1", "participant": "pp-1234", "trial": 4, "pair": "pair2",
                   "left": "gammamethod", "right": "alphamethod", "choice": "right", "chosen": "alphamethod",
                   "attention_check": False, "correct": None, "seconds": 3.142,
                   "timestamp": "2023-11-14T22:13:20.250Z"}
    check = st.Trial(5, "check1", st.CHECK_CORRUPTED, st.CHECK_ORIGINAL, True, "right")
    assert st.make_answer(study, "pp-1234", check, "left", 1.0)["correct"] is False
    assert st.make_answer(study, "pp-1234", check, "right", 1.0)["correct"] is True
    with pytest.raises(InputError, match="'left' or 'right'"):
        st.make_answer(study, "pp-1234", trial, "middle", 1.0)


def _rec(participant: str, trial: int, **kw) -> dict:
    return {"study": "realism-1", "participant": participant, "trial": trial, **kw}


def test_results_file_appends_lines_and_never_records_a_trial_twice(tmp_path):
    rf = st.ResultsFile(tmp_path / "sub" / "results.jsonl")
    assert rf.records() == []
    assert rf.append(_rec("p1", 0, chosen="a")) is True
    assert rf.append(_rec("p1", 1, chosen="b")) is True
    assert rf.append(_rec("p1", 0, chosen="c")) is False  # a second click on the same trial
    assert st.ResultsFile(rf.path).append(_rec("p1", 1, chosen="d")) is False  # another process's view of it
    lines = rf.path.read_text().splitlines()
    assert [json.loads(x)["chosen"] for x in lines] == ["a", "b"]
    assert rf.answered("realism-1", "p1") == {0: _rec("p1", 0, chosen="a"), 1: _rec("p1", 1, chosen="b")}
    assert rf.answered("realism-1", "p2") == {} and rf.answered("other", "p1") == {}


def test_concurrent_appends_from_threads_give_exactly_n_well_formed_lines(tmp_path):
    path = tmp_path / "results.jsonl"
    files = [st.ResultsFile(path) for _ in range(4)]  # separate objects, like separate workers
    padding = "x" * 3000  # lines longer than a pipe buffer would interleave if written in pieces

    def work(k: int) -> None:
        for i in range(30):
            files[k % 4].append(_rec(f"p{k}", i, pad=padding))
            files[(k + 1) % 4].append(_rec(f"p{k}", i, pad="duplicate"))  # the same trial again: not recorded

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == 8 * 30
    records = [json.loads(x) for x in lines[:-1]]
    assert all(r["pad"] == padding for r in records)
    assert sorted((r["participant"], r["trial"]) for r in records) == sorted(
        (f"p{k}", i) for k in range(8) for i in range(30))


def _append_in_process(path: str, worker: int, n: int) -> None:
    rf = st.ResultsFile(path)
    for i in range(n):
        rf.append(_rec(f"proc{worker}", i, pad="y" * 5000))
        rf.append(_rec(f"proc{worker % 2}", i, pad="shared"))  # workers 0/1 race others for these keys


def test_concurrent_appends_from_processes_give_exactly_n_well_formed_lines(tmp_path):
    path = tmp_path / "results.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_in_process, args=(str(path), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    records = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(records) == 4 * 25
    assert Counter((r["participant"], r["trial"]) for r in records) == Counter(
        {(f"proc{w}", i): 1 for w in range(4) for i in range(25)})


def test_a_torn_last_line_is_skipped_and_sealed_off(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(json.dumps(_rec("p1", 0)).encode() + b'\n{"study": "realism-1", "partic')
    rf = st.ResultsFile(path)
    assert rf.records() == [_rec("p1", 0)]
    assert rf.append(_rec("p1", 1)) is True
    assert st.ResultsFile(path).records() == [_rec("p1", 0), _rec("p1", 1)]
    assert path.read_text().splitlines()[1] == '{"study": "realism-1", "partic'


def test_a_participant_resumes_after_a_reload_or_a_restart(prepared):
    study = prepared.study
    trials = st.schedule(study, "resumer")
    rf = prepared.results
    for trial in trials[:3]:
        rf.append(st.make_answer(study, "resumer", trial, "left", 2.0))
    # a reload or a server restart: nothing but the participant id and the results file
    answered = st.ResultsFile(prepared.results_path).answered(study.id, "resumer")
    assert sorted(answered) == [0, 1, 2]
    assert st.next_trial(st.schedule(study, "resumer"), answered) == trials[3]
    assert st.participant_view(prepared, trials[3]).progress_text == f"Trial 4 of {study.trials_total}"
    assert st.next_trial(trials, [0, 2]) == trials[1]
    assert st.next_trial(trials, range(len(trials))) is None


# ---------------------------------------------------------------------------------------------------------------
# analysis


@pytest.mark.parametrize("k, n, low, high", [
    (7, 10, 0.3967781475, 0.8922087326), (0, 10, 0.0, 0.2775327999), (10, 10, 0.7224672001, 1.0),
    (5, 10, 0.2365930905, 0.7634069095), (3, 4, 0.3006418426, 0.9544127392), (2, 2, 0.3423802275, 1.0),
    (81, 263, 0.2552885199, 0.3662095770), (0, 0, 0.0, 1.0),
])
def test_wilson_interval(k, n, low, high):
    lo, hi = st.wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-9) and hi == pytest.approx(high, abs=1e-9)


def _results_lines() -> list[dict]:
    def cmp(p, i, left, right, chosen):
        return {"study": "hand", "participant": p, "trial": i, "pair": "x", "left": left, "right": right,
                "choice": "left" if chosen == left else "right", "chosen": chosen, "attention_check": False,
                "correct": None, "seconds": 1.0, "timestamp": "2024-01-01T00:00:00.000Z"}

    def chk(p, i, ok):
        return {**cmp(p, i, "@original", "@corrupted", "@original" if ok else "@corrupted"),
                "attention_check": True, "correct": ok}

    return [
        cmp("p1", 0, "ma", "mb", "ma"), cmp("p1", 1, "ma", "mc", "ma"), cmp("p1", 2, "mb", "mc", "mc"),
        chk("p1", 3, True),
        cmp("p2", 0, "mb", "ma", "ma"), chk("p2", 1, True), cmp("p2", 2, "mc", "ma", "mc"),
        cmp("p2", 3, "mb", "mc", "mb"),
        cmp("p3", 0, "ma", "mb", "mb"), chk("p3", 1, False),  # failed the check: excluded
        cmp("p1", 0, "ma", "mb", "mb"),  # the same trial again: ignored
        {**cmp("p4", 0, "ma", "mb", "mb"), "study": "another"},  # another study: ignored
        cmp("p5", 0, "ma", "zz", "zz"),  # a method that is not in the study: ignored
    ]


@pytest.fixture
def hand_study(files) -> st.Study:
    return st.study_from_dict({"id": "hand", "question": "Which?", "methods": ["ma", "mb", "mc"],
                               "pairs": [{"id": "x", "person": "person0.png", "garment": "garment0.png"}],
                               "attention_checks": [{"id": "c", "image": "real.png"}],
                               "trials_per_participant": 3}, files)


def test_summary_of_a_hand_made_results_file(hand_study, tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _results_lines()))
    s = st.summarize(hand_study, st.ResultsFile(path).records())
    assert s.participants == 4 and s.completed == 2  # p1, p2, p3, p5; p1 and p2 answered all 4 trials
    assert s.excluded == ("p3",) and (s.checks_passed, s.checks_answered) == (2, 3)
    assert s.check_pass_rate == pytest.approx(2 / 3) and s.comparisons == 6
    by = {m.method: m for m in s.methods}
    assert [(by[m].wins, by[m].comparisons) for m in ("ma", "mb", "mc")] == [(3, 4), (1, 4), (2, 4)]
    assert by["ma"].win_rate == 0.75 and (by["ma"].ci_low, by["ma"].ci_high) == pytest.approx(
        (0.3006418426, 0.9544127392), abs=1e-9)
    assert (by["mb"].ci_low, by["mb"].ci_high) == pytest.approx((0.0455872608, 0.6993581574), abs=1e-9)
    assert (by["mc"].ci_low, by["mc"].ci_high) == pytest.approx((0.1500389892, 0.8499610108), abs=1e-9)
    assert [(p.method_a, p.method_b, p.a_wins, p.comparisons) for p in s.pairwise] == [
        ("ma", "mb", 2, 2), ("ma", "mc", 1, 2), ("mb", "mc", 1, 2)]
    assert st.method_rows(s) == [["ma", 3, 4, "75.0 %", "30.1 % – 95.4 %"], ["mc", 2, 4, "50.0 %", "15.0 % – 85.0 %"],
                                 ["mb", 1, 4, "25.0 %", "4.6 % – 69.9 %"]]
    assert st.pairwise_rows(s)[0] == ["ma", "mb", 2, 2, "100.0 %", "34.2 % – 100.0 %"]


def test_a_lower_exclusion_threshold_keeps_everyone(hand_study):
    lenient = dataclasses.replace(hand_study, exclude_below=0.0)
    s = st.summarize(lenient, _results_lines())
    assert s.excluded == () and s.comparisons == 7
    assert {m.method: (m.wins, m.comparisons) for m in s.methods} == {"ma": (3, 5), "mb": (2, 5), "mc": (2, 4)}


def test_summary_without_answers(hand_study):
    s = st.summarize(hand_study, [])
    assert s.participants == 0 and s.check_pass_rate is None
    assert all(m.win_rate is None and (m.ci_low, m.ci_high) == (0.0, 1.0) for m in s.methods)
    assert st.method_rows(s)[0][3:] == ["–", "0.0 % – 100.0 %"]


# ---------------------------------------------------------------------------------------------------------------
# the researcher's token and the Hub backup


def test_researcher_token_comes_from_the_environment_or_is_generated():
    assert st.researcher_token({st.TOKEN_ENV: " s3cret "}) == ("s3cret", False)
    token, generated = st.researcher_token({})
    assert generated and len(token) >= 20 and token != st.researcher_token({})[0]


def test_token_check():
    assert st.check_token("s3cret", "s3cret") and st.check_token(" s3cret\n", "s3cret")
    assert not st.check_token("s3cre", "s3cret") and not st.check_token("", "s3cret")
    assert not st.check_token(None, "s3cret") and not st.check_token("", "")


def test_results_backup_is_not_started_without_the_env_var(prepared, monkeypatch):
    import huggingface_hub

    started = []
    monkeypatch.setattr(huggingface_hub, "CommitScheduler", lambda **kw: started.append(kw) or "scheduler")
    assert st.results_scheduler(prepared, env={}) is None and started == []
    env = {st.HF_REPO_ENV: "lab/vton-study", st.HF_EVERY_ENV: "2"}
    assert st.results_scheduler(prepared, env=env) == "scheduler"
    assert started == [st.scheduler_kwargs(prepared.folder, "lab/vton-study", "realism-1", 2.0)]
    assert started[0] == {"repo_id": "lab/vton-study", "repo_type": "dataset", "folder_path": prepared.folder,
                          "every": 2.0, "path_in_repo": "studies/realism-1", "allow_patterns": ["results.jsonl"],
                          "private": True}


# ---------------------------------------------------------------------------------------------------------------
# the page's configuration


@pytest.mark.slow  # imports gradio
def test_the_page_config_names_no_method_and_the_page_can_join_another_blocks(prepared):
    import gradio as gr

    from vton.web.study_app import build_study_app

    demo = build_study_app(prepared, token="tok-123456")
    config = json.dumps(demo.get_config_file(), default=str)
    assert "Which looks more realistic?" in config
    assert not [m for m in METHODS if m in config]
    assert "tok-123456" not in config
    with gr.Blocks() as host:
        gr.Markdown("the main app")
    assert build_study_app(prepared, token="tok-123456", demo=host) is host
    ids = {b.elem_id for b in host.blocks.values()}
    assert {"study-left", "study-right", "study-choose-left", "study-token", "study-table"} <= ids
