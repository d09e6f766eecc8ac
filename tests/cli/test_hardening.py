"""Hostile and careless input, class by class: CLI options, non-finite and extreme numbers,
resource exhaustion, outputs (all or nothing, never onto a FIFO), interruption, full disks,
silent results, row numbers and determinism. Bad scheme and data files for the messages
live in tests/bad/ and run through tests/test_bad_inputs.py."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfsim
from perfsim.cli import main
from perfsim.core.errors import PerfsimError
from perfsim.core.files import OutputSet, write_with

from ..conftest import MINI, MINI_SCHEME, ROOT
from ..factories import interruptible

BASELINE = ROOT / "params" / "baseline.yaml"


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfsim: error: "), err
    assert "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------- CLI options

BAD_OPTIONS = [
    (["uncertainty", BASELINE, "--draws", "0"], "argument --draws: must be at least 1"),
    (["uncertainty", BASELINE, "--draws", "-2000"], "argument --draws: must be at least 1"),
    (["uncertainty", BASELINE, "--draws", "10000000000"], "argument --draws: must be at most 10,000,000"),
    (["uncertainty", BASELINE, "--draws", "lots"], "argument --draws: 'lots' is not a whole number"),
    (["uncertainty", BASELINE, "--seed", "-1"], "argument --seed: must be at least 0"),
    (["uncertainty", BASELINE, "--chunk", "0"], "argument --chunk: must be at least 1"),
    (["uncertainty", BASELINE, "--sobol-n", "0"], "argument --sobol-n: must be at least 2"),
    (["uncertainty", BASELINE, "--sobol-n", "100"], "argument --sobol-n: must be a power of two"),
    (["uncertainty", BASELINE, "--jobs", "0"], "argument --jobs: must be at least 1"),
    (["uncertainty", BASELINE, "--jobs", "100000"], "argument --jobs: must be at most 256"),
    (["uncertainty", BASELINE, "--scheduler", "tcp://no such host:x"], "argument --scheduler"),
    (["uncertainty", BASELINE, "--target-rank", "0"], "argument --target-rank: must be at least 1"),
    (["batch", "--name", "../escape"], "argument --name: '../escape' is not a plain folder name"),
    (["batch", "--name", "a/b"], "argument --name"),
    (["batch", "--jobs", "-1"], "argument --jobs: must be at least 1"),
    (["batch", "--timeout", "0"], "argument --timeout: must be at least 1"),
    (["score", BASELINE, "--year", "99999"], "argument --year: must be at most 2,200"),
    (["track", BASELINE, "--period", "2025-13"], "argument --period: '2025-13' is not a period"),
    (["compare", BASELINE], "the following arguments are required: scenario"),
]


@pytest.mark.parametrize("argv, expect", BAD_OPTIONS, ids=[" ".join(map(str, a[0][::2])) + f"-{i}"
                                                           for i, a in enumerate(BAD_OPTIONS)])
def test_bad_option_is_one_line_and_exit_2(argv, expect, capsys, tmp_path):
    code, out, err = _run([*argv, "--out", tmp_path / "o"] if argv[0] in ("uncertainty",) else argv, capsys)
    assert code == 2
    assert expect in _one_error_line(err), err
    assert not (tmp_path / "o").exists()


def test_unit_and_target_rank_go_together(capsys, tmp_path):
    code, _, err = _run(["uncertainty", BASELINE, "--unit", "D01", "--draws", "10", "--out", tmp_path], capsys)
    assert code == 2 and "--unit and --target-rank go together" in _one_error_line(err)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- numbers

def test_huge_weights_score_like_unit_weights(mini, mini_scheme):
    raw = perfsim.core.scheme.raw_of(mini_scheme)
    ones, huge = perfsim.core.scheme.apply_diff(raw, {}, [], "x"), perfsim.core.scheme.apply_diff(raw, {}, [], "x")
    for tree in (ones, huge):
        for node in tree["tree"]["children"].values():
            for child in (node.get("children") or {}).values():
                child.pop("points", None)
                child["weight"] = 1.0 if tree is ones else 1e308
    a = perfsim.score(perfsim.parse_scheme(ones, "ones"), mini)
    b = perfsim.score(perfsim.parse_scheme(huge, "huge"), mini)
    assert np.isfinite(b["total"]).all()
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- resources

def test_fifo_as_base_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "base.yaml"
    os.mkfifo(fifo)
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nbase: base.yaml\nset: {}\n")
    started = time.perf_counter()
    code, _, err = _run(["validate", scenario], capsys)
    assert code == 2 and "key 'base': 'base.yaml' is not a regular file" in _one_error_line(err)
    assert time.perf_counter() - started < 5


def test_fifo_and_oversized_scheme_files_are_refused(tmp_path, capsys):
    fifo = tmp_path / "scheme.yaml"
    os.mkfifo(fifo)
    code, _, err = _run(["validate", fifo], capsys)
    assert code == 2 and "is not a regular file" in _one_error_line(err)
    big = tmp_path / "big.yaml"
    big.write_text("name: x\nnote: '" + "x" * 1_100_000 + "'\n")
    code, _, err = _run(["validate", big], capsys)
    assert code == 2 and "larger than 1,000,000 bytes" in _one_error_line(err)


# --------------------------------------------------------------------------- outputs

def test_score_out_onto_a_fifo_or_a_folder_is_refused(tmp_path, capsys):
    fifo = tmp_path / "scores.csv"
    os.mkfifo(fifo)
    code, _, err = _run(["score", MINI_SCHEME, "--data", MINI, "--quiet", "--out", fifo], capsys)
    assert code == 2 and "is not a regular file" in _one_error_line(err)
    assert fifo.is_fifo()
    code, _, err = _run(["score", MINI_SCHEME, "--data", MINI, "--quiet", "--out", tmp_path], capsys)
    line = _one_error_line(err)
    assert code == 2 and f"{tmp_path}: is a directory" in line and ".tmp" not in line


def test_compare_out_onto_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, _, err = _run(["compare", MINI_SCHEME, MINI_SCHEME, "--data", MINI, "--out", target], capsys)
    assert code == 2 and "exists and is not a folder" in _one_error_line(err)
    assert target.read_text() == "keep me"


def test_refused_unit_leaves_no_tables(tmp_path, capsys):
    code, _, err = _run(["uncertainty", BASELINE, "--draws", "200", "--unit", "NOPE", "--target-rank", "1",
                         "--out", tmp_path / "u", "--no-progress"], capsys)
    assert code == 2 and "--unit 'NOPE' is not a unit" in _one_error_line(err)
    assert not (tmp_path / "u").exists() or list((tmp_path / "u").iterdir()) == []


def test_output_set_publishes_all_or_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with OutputSet(tmp_path) as outputs:
            outputs.csv(pd.DataFrame({"a": [1]}), "first.csv")
            raise RuntimeError("a late failure")
    assert list(tmp_path.iterdir()) == []
    with OutputSet(tmp_path) as outputs:
        outputs.csv(pd.DataFrame({"a": [1]}), "first.csv")
        outputs.json({"b": 2}, "second.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.csv", "second.json"]


def test_full_disk_names_the_file_and_leaves_nothing(tmp_path):
    def writer(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "result.csv"
    with pytest.raises(PerfsimError) as info:
        write_with(target, writer)
    assert str(target) in str(info.value) and "no space left on device" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_write_error_says_its_reason_and_names_the_file(tmp_path):
    from perfsim.core.files import _write_error

    target = tmp_path / "x.csv"
    said = {str(_write_error(target, OSError(errno.EACCES, "Permission denied"))),
            str(_write_error(target, OSError("the mount went away"))),           # no errno, no strerror
            str(_write_error(target, OSError(errno.ENOSPC, "No space left on device")))}
    assert said == {f"{target}: cannot write this file ({reason}); nothing was written"
                    for reason in ("Permission denied", "the mount went away", "no space left on device")}


def test_ctrl_c_ends_with_one_line_exit_130_and_no_files(tmp_path):
    out = tmp_path / "u"
    proc = subprocess.Popen([sys.executable, "-m", "perfsim.cli", "uncertainty", str(BASELINE), "--draws",
                             "5000000", "--out", str(out), "--no-progress"], stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "perfsim: interrupted (Ctrl-C); no results were written", err
    assert "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []


# --------------------------------------------------------------------------- silent results

def test_unit_without_data_is_reported(mini_copy, capsys):
    units = pd.read_csv(mini_copy / "units.csv", dtype=str)
    ghost = units.iloc[[0]].assign(unit_id="GHOST", name="Ghost unit")
    pd.concat([units, ghost]).to_csv(mini_copy / "units.csv", index=False)
    code, out, err = _run(["score", MINI_SCHEME, "--data", mini_copy, "--quiet"], capsys)
    assert code == 0
    assert "perfsim: warning: 1 unit(s) have no data at all" in err and "GHOST" in err


def test_target_without_actual_is_reported(mini_copy, capsys):
    actuals = pd.read_csv(mini_copy / "actuals.csv", dtype=str)
    actuals = actuals[~((actuals["unit_id"] == "U2") & (actuals["indicator_id"] == "I1"))]
    actuals.to_csv(mini_copy / "actuals.csv", index=False)
    code, _, err = _run(["score", MINI_SCHEME, "--data", mini_copy, "--quiet"], capsys)
    assert code == 0
    assert "have no actual" in err and "unit U2, indicator I1" in err


# --------------------------------------------------------------------------- determinism

@pytest.mark.slow
def test_synth_workbook_is_byte_identical_for_one_seed(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "a"), "--seed", "5", "--format", "xlsx"]) == 0
    time.sleep(1.1)   # a different clock second must not change the bytes
    assert main(["synth", "--out", str(tmp_path / "b"), "--seed", "5", "--format", "xlsx"]) == 0
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx", "b.xlsx"]    # no README beside it
    data = perfsim.load_dataset(a)
    assert len(data.units) == 108


def test_dataset_replace_leaves_the_original(mini):
    empty = mini.adjustments.iloc[0:0]
    other = mini.replace(adjustments=empty)
    assert len(mini.adjustments) > 0 and len(other.adjustments) == 0
    assert other.units is mini.units


def test_open_dataset_none_is_the_bundled_world():
    data = perfsim.open_dataset(None)
    assert data is perfsim.open_dataset("")
    assert len(data.units) == 108 and data.has("truth")


def test_batch_refuses_a_second_batch_on_the_same_folder(tmp_path):
    from perfsim.runners.batch import batch_lock, run_batch

    with batch_lock(tmp_path / "b"):
        with pytest.raises(PerfsimError, match="another perfsim batch"):
            run_batch([MINI_SCHEME], [ROOT / "notebooks" / "scoring.ipynb"], out=tmp_path, name="b",
                      data=str(MINI), jobs=1, progress=False)
    with pytest.raises(PerfsimError, match="not a plain folder name"):
        run_batch([MINI_SCHEME], [ROOT / "notebooks" / "scoring.ipynb"], out=tmp_path, name="../x",
                  data=str(MINI), jobs=1, progress=False)
    assert not (tmp_path.parent / "x").exists()
    shutil.rmtree(tmp_path / "b", ignore_errors=True)


def test_the_fast_yaml_loader_reads_every_parameter_file_as_pyyaml_safe_load_does():
    import yaml

    from perfsim.core import yamlio

    if yaml.__with_libyaml__:
        assert issubclass(yamlio._StrictSafeLoader, yaml.CSafeLoader)     # libyaml's parser is used
    files = sorted((ROOT / "params").rglob("*.yaml"))
    assert len(files) > 10
    for path in files:
        assert yamlio.load_yaml(path) == yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader), path


# --------------------------------------------------------------------------- publishing

def _previous_set(out: Path) -> dict[str, str]:
    out.mkdir()
    (out / "a.csv").write_text("old a")
    (out / "sub").mkdir()
    (out / "sub" / "b.csv").write_text("old b")
    (out / "other.txt").write_text("not ours")
    return {"a.csv": "old a", "sub/b.csv": "old b", "other.txt": "not ours"}


def _state(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


def _publish_new(out: Path) -> None:
    with OutputSet(out) as outputs:
        outputs.text("new a", "a.csv")
        outputs.text("new b", "sub/b.csv")
        outputs.text("new c", "c.csv")


NEW = {"a.csv": "new a", "sub/b.csv": "new b", "c.csv": "new c", "other.txt": "not ours"}


def test_publishing_fails_at_every_step_and_leaves_the_complete_previous_set(tmp_path, monkeypatch):
    """Two previous files moved aside, three new ones renamed in: five steps. A failure at
    any of them (a full disk, a lost mount) undoes the steps before it."""
    from perfsim.core import files

    real = files._rename
    for fail_at in range(5):
        out = tmp_path / f"out{fail_at}"
        before = _previous_set(out)
        calls = []

        def failing(source, target, fail_at=fail_at, calls=calls):
            calls.append(target)
            if len(calls) - 1 == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            real(source, target)

        monkeypatch.setattr(files, "_rename", failing)
        with pytest.raises(PerfsimError, match=r"no space left on device\); nothing was written"):
            _publish_new(out)
        assert _state(out) == before, fail_at
        assert not list(out.glob(".staging-*")), fail_at           # no staging or aside folder left
    monkeypatch.setattr(files, "_rename", real)
    out = tmp_path / "ok"
    _previous_set(out)
    _publish_new(out)
    assert _state(out) == NEW and not list(out.glob(".staging-*"))


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_at_any_step_of_publishing_arrives_after_the_complete_new_set(tmp_path, monkeypatch, signame):
    from perfsim.core import files

    real = files._rename
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)   # as at a terminal
    try:
        _publish_with_signals(tmp_path, monkeypatch, signame, files, real)
    finally:
        signal.signal(signal.SIGINT, previous)


def _publish_with_signals(tmp_path, monkeypatch, signame, files, real):
    import threading

    from perfsim.cli import Terminated, _ending_signals

    # another thread that does not block the signals (as a library's would): the kernel may
    # hand it the signal, which a per-thread signal mask would not hold
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
    try:
        _steps(tmp_path, monkeypatch, signame, files, real, Terminated, _ending_signals)
    finally:
        stop.set()


def _steps(tmp_path, monkeypatch, signame, files, real, Terminated, _ending_signals):
    for at in range(5):
        out = tmp_path / f"{signame}{at}"
        _previous_set(out)
        calls = []

        def signalling(source, target, at=at, calls=calls):
            calls.append(target)
            if len(calls) - 1 == at:
                os.kill(os.getpid(), getattr(signal, signame))        # held until publishing ends
            real(source, target)

        monkeypatch.setattr(files, "_rename", signalling)
        with _ending_signals(), pytest.raises(KeyboardInterrupt) as caught:
            _publish_new(out)
            time.sleep(1)                      # not reached: the signal is delivered as the hold ends
        assert _state(out) == NEW, (signame, at)
        assert isinstance(caught.value, Terminated) == (signame == "SIGTERM")
        assert not list(out.glob(".staging-*"))


def test_stale_staging_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".staging-{dead.pid}-abc123"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "x.csv.tmp").write_text("partial")
    # a live process's: kept. Not the parent's pid: code that signals the pid it checks
    # (a planted defect, os.kill(pid, 1)) would end the test runner, not fail the test
    living = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = tmp_path / f".staging-{living.pid}-def456"
        alive.mkdir()
        with OutputSet(tmp_path) as outputs:
            outputs.text("x", "x.csv")
        assert living.poll() is None, "the live process was signalled"
    finally:
        living.kill()
        living.wait()
    assert not stale.exists() and alive.exists() and (tmp_path / "x.csv").read_text() == "x"


_KILLED_AT = """
import os, signal, sys
from pathlib import Path
from perfsim.core import files
at, out = int(sys.argv[1]), Path(sys.argv[2])
calls = []
real = files._rename
def killing(source, target):
    calls.append(target)
    if len(calls) - 1 == at:
        os.kill(os.getpid(), signal.SIGKILL)       # no handler, no hold: as a power cut
    real(source, target)
files._rename = killing
with files.OutputSet(out) as outputs:
    outputs.text("new a", "a.csv")
    outputs.text("new b", "sub/b.csv")
    outputs.text("new c", "c.csv")
    if at < 0:
        os.kill(os.getpid(), signal.SIGKILL)       # killed before publishing began
"""


def test_a_process_killed_outright_while_publishing_is_finished_by_the_next_run(tmp_path):
    """SIGKILL cannot be held. Killed before publishing: the next run removes the partial
    staging and the previous set stands. Killed at any of the five renames: the next run
    finishes publishing the killed process's complete set and says so."""
    for at in range(-1, 5):
        out = tmp_path / f"killed{at}"
        before = _previous_set(out)
        run = subprocess.run([sys.executable, "-c", _KILLED_AT, str(at), str(out)], capture_output=True)
        assert run.returncode == -signal.SIGKILL, run.stderr
        assert list(out.glob(".staging-*")), at                   # left behind by the dead process
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with OutputSet(out) as outputs:
                outputs.text("mine", "mine.txt")
        said = [str(w.message) for w in caught if "was killed while it published" in str(w.message)]
        if at < 0:
            assert _state(out) == {**before, "mine.txt": "mine"} and not said, at
        else:
            assert _state(out) == {**NEW, "mine.txt": "mine"}, at
            assert len(said) == 1 and "a.csv, sub/b.csv, c.csv" in said[0], (at, said)
        assert not list(out.glob(".staging-*")), at


def test_finishing_a_dead_process_publishing_trusts_only_a_well_formed_marker(tmp_path, monkeypatch):
    """The marker of a dead process's staging folder is read with care: a marker that is not a
    list of names means publishing had not begun (nothing is moved); a name that is absolute
    or climbs out with '..' is skipped; a name in folders not made yet gets them; a file that
    cannot be moved (a folder in its way) is skipped and the next is still moved. A process
    that exists but belongs to another user counts as alive (its folder is left alone)."""
    import json

    from perfsim.core import files

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()

    def stage(out, marker, staged):
        folder = out / f".staging-{dead.pid}-x{len(list(out.glob('.staging-*')))}"
        folder.mkdir(parents=True)
        for name, text in staged.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        (folder / files.MARKER).write_text(marker)
        return folder

    out = tmp_path / "out"
    stage(out, json.dumps({"a.csv": 1}), {"a.csv": "from a dict"})
    stage(out, json.dumps(["b.csv", 3]), {"b.csv": "with a number"})
    stage(out, "not json", {"c.csv": "garbage"})
    (out / "blocked.csv").mkdir()                               # a folder where a file would go
    stage(out, json.dumps(["/etc/passwd-x", "../up.csv", "blocked.csv", "deep/er/d.csv", "e.csv"]),
          {"e.csv": "e", "deep/er/d.csv": "d", "blocked.csv": "b", "../up.csv": "up"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(files.remove_stale_staging(out)) == 4
    # up.csv is where "staging/../up.csv" is: it stays there, not moved to out/../up.csv
    assert _state(out) == {"deep/er/d.csv": "d", "e.csv": "e", "up.csv": "up"} and (out / "blocked.csv").is_dir()
    assert not (tmp_path / "up.csv").exists() and not list(out.glob(".staging-*"))

    def not_yours(pid, signum):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(files.os, "kill", not_yours)
    kept = stage(tmp_path / "other", json.dumps(["f.csv"]), {"f.csv": "f"})
    assert files.remove_stale_staging(tmp_path / "other") == [] and kept.exists()


@pytest.mark.slow
def test_sigterm_and_sighup_end_a_command_with_one_line_their_exit_code_and_no_files(tmp_path):
    for signame, code in (("SIGTERM", 143), ("SIGHUP", 129)):
        out = tmp_path / signame
        proc = subprocess.Popen([sys.executable, "-m", "perfsim.cli", "uncertainty", str(BASELINE), "--draws",
                                 "5000000", "--out", str(out), "--no-progress"], stderr=subprocess.PIPE, text=True,
                                preexec_fn=interruptible)
        time.sleep(6)
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        assert err.strip().splitlines()[-1] == f"perfsim: interrupted ({signame}); no results were written", err
        assert "Traceback" not in err
        assert not out.exists() or list(out.iterdir()) == []


def test_synth_on_a_full_disk_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    from perfsim.core import files

    real, calls = files.atomic_write_bytes, []

    def filling(path, data):
        calls.append(path)
        if len(calls) == 3:                        # the disk fills while the third table is written
            raise files._write_error(Path(path), OSError(errno.ENOSPC, "No space left on device"))
        return real(path, data)

    monkeypatch.setattr(files, "atomic_write_bytes", filling)
    out = tmp_path / "world"
    assert main(["synth", "--out", str(out), "--seed", "3"]) == 2
    assert "no space left on device" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []
    monkeypatch.setattr(files, "atomic_write_bytes", real)
    assert main(["synth", "--out", str(out), "--seed", "3"]) == 0
    assert (out / "SYNTHETIC_README.txt").exists() and (out / "units.csv").exists()
    assert not list(out.glob(".staging-*"))


def test_a_bad_out_is_found_before_the_work_and_no_progress_bar_goes_to_a_pipe(tmp_path):
    """stderr is a pipe here, as in a log or a scheduler: no progress bar, and a file where
    a folder belongs ends the command at once in one line, before a single draw."""
    target = tmp_path / "a_file"
    target.write_text("x")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "perfsim.cli", "uncertainty", str(BASELINE), "--draws", "2000000",
                           "--out", str(target)], capture_output=True, text=True, timeout=120)
    assert time.perf_counter() - start < 20                  # 2 million draws would take minutes
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"perfsim: error: {target}: exists and is not a folder; give a folder for these outputs"]
    proc = subprocess.run([sys.executable, "-m", "perfsim.cli", "uncertainty", str(BASELINE), "--draws", "300",
                           "--no-sobol", "--out", str(tmp_path / "u")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "draws/s" not in proc.stderr and "%|" not in proc.stderr            # no bar on a pipe
    proc = subprocess.run([sys.executable, "-m", "perfsim.cli", "uncertainty", str(BASELINE), "--draws", "300",
                           "--no-sobol", "--progress", "--out", str(tmp_path / "v")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "%|" in proc.stderr                       # asked for: drawn


@pytest.mark.parametrize("command, out", [
    (["audit", str(BASELINE)], "folder"), (["methods", str(BASELINE)], "folder"),
    (["influence", str(BASELINE)], "folder"), (["score", str(BASELINE)], "file")])
def test_every_out_is_checked_before_the_work(tmp_path, capsys, monkeypatch, command, out):
    """The analysis itself is made to fail loudly: the out check must come first."""
    import importlib

    def never(args):
        raise AssertionError("the work started before --out was checked")

    monkeypatch.setattr(importlib.import_module(f"perfsim.cli.{command[0]}"), "open_data", never)
    bad = tmp_path / "x"
    if out == "folder":
        bad.write_text("a file")
    else:
        bad.mkdir()
    assert main([*command, "--out", str(bad)]) == 2
    assert "perfsim: error:" in capsys.readouterr().err


def test_a_cache_written_on_the_way_is_not_called_a_result(tmp_path):
    """The bundled world regenerated by a command is a cache: if the command is then
    interrupted, its last line must not say results were written (it did, once, naming a
    temporary folder)."""
    from perfsim.core import files

    files.PUBLISHED.clear()
    with OutputSet(tmp_path / "cache", record=False) as outputs:
        outputs.text("x", "a.csv")
    assert files.PUBLISHED == []
    with OutputSet(tmp_path / "result") as outputs:
        outputs.text("x", "a.csv")
    assert files.PUBLISHED == [str(tmp_path / "result")]
    files.PUBLISHED.clear()
    perfsim.sources.synth.write(tmp_path / "world", 3, record=False)
    assert files.PUBLISHED == [] and (tmp_path / "world" / "SYNTHETIC_README.txt").exists()
