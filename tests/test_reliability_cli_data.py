"""Issue 13, the `gan-lessons` command and the data module against bad input and faults.

Each test reproduces one row of docs/reliability.md (section "The gan-lessons command and the
data"): what an instructor or learner could realistically type, and the clear message (or the
working result) they get. Nothing they made is lost, and the source lessons are only ever
rewritten by `run --in-place`. No test needs the network: downloads are simulated by replacing
torchvision's dataset class with one that copies the files from the shared data folder (or fails
the way torchvision fails).
"""
import errno
import hashlib
import os
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from gan_lessons import data
from gan_lessons.course import cli
from gan_lessons.course import notebooks as nbs
from gan_lessons.errors import DataCorruptedError, DataMissingError

STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def _shared_data():
    """Where good copies of the MNIST files are: ../shared/data beside the checkout (as .ci/run expects,
    or $GAN_LESSONS_SHARED/data), else the GAN_LESSONS_DATA the tests run with. Only ever read."""
    shared = Path(os.environ.get("GAN_LESSONS_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
    for folder in (shared, Path(os.environ.get("GAN_LESSONS_DATA") or shared)):
        if all((folder / "MNIST" / "raw" / (s + ".gz")).is_file() for s in STEMS):
            return folder
    return shared


SHARED = _shared_data()
HAVE_SHARED = all((SHARED / "MNIST" / "raw" / (s + ".gz")).is_file() for s in STEMS)
NEEDS_SHARED = f"needs the MNIST .gz files in {SHARED} (set GAN_LESSONS_SHARED to the folder holding data/)"
RAW = "MNIST/raw"


def run_cli(*args):
    return cli.main([str(a) for a in args])


def usage_error(capsys, *args):
    """Run the command, expect exit status 2, return what it wrote to stderr."""
    with pytest.raises(SystemExit) as e:
        run_cli(*args)
    assert e.value.code == 2
    return capsys.readouterr().err


def snapshot(folder):
    """{relative path: sha256} of every file under `folder`, to show that nothing changed."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def fake_execute(calls):
    """A stand-in for nbs.execute that records what it was asked to run and writes an executed copy."""
    def execute(path, out_path, parameters=None, kernel=None, timeout=600, device=None, cwd=None):
        calls.append(Path(path).name)
        nb = nbs.read(path)
        nb.metadata["papermill"] = {"input_path": str(path), "output_path": str(out_path)}
        nbs.write(nb, out_path)
        return {"path": str(path), "out_path": str(out_path), "status": "ok", "seconds": 0.0,
                "cell": None, "error": None, "traceback": None}
    return execute


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty GAN_LESSONS_DATA, offline, with the module's caches cleared before and after."""
    folder = tmp_path / "data"
    monkeypatch.setenv(data.ENV_DATA, str(folder))
    monkeypatch.setenv("GAN_LESSONS_OFFLINE", "1")
    data._CACHE.clear()
    data._VERIFIED.clear()
    yield folder
    data._CACHE.clear()
    data._VERIFIED.clear()


def copy_mnist(folder):
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for f in (SHARED / "MNIST" / "raw").glob("*.gz"):
        shutil.copy(f, raw / f.name)
    return raw


def truncate(path, keep=1000):
    path.write_bytes(path.read_bytes()[:keep])


def damaged_mnist_labels(data_dir):
    """MNIST in data_dir with its training labels cut short: (raw folder, that file, its damaged bytes)."""
    raw = copy_mnist(data_dir)
    bad = raw / "train-labels-idx1-ubyte.gz"
    truncate(bad)
    return raw, bad, bad.read_bytes()


class FakeTorchvisionMNIST:
    """Stands in for torchvision.datasets.MNIST asked to download, with a network: it skips when the
    unpacked files exist, else fetches every .gz whose md5 is wrong or that is absent (here: copies
    it from the shared data folder)."""

    fetched = []

    def __init__(self, root, train=True, download=False):
        raw = Path(root) / "MNIST" / "raw"
        if all((raw / f.name[:-3]).exists() for f in (SHARED / "MNIST" / "raw").glob("*.gz")):
            return
        raw.mkdir(parents=True, exist_ok=True)
        for f in sorted((SHARED / "MNIST" / "raw").glob("*.gz")):
            target = raw / f.name
            if not target.exists() or target.read_bytes() != f.read_bytes():
                shutil.copy(f, target)
                FakeTorchvisionMNIST.fetched.append(f.name)


def online(monkeypatch, fake):
    monkeypatch.delenv("GAN_LESSONS_OFFLINE", raising=False)
    monkeypatch.setattr(tvd, "MNIST", fake)
    monkeypatch.setattr(tvd, "FashionMNIST", fake)


# ------------------------------------------------------------ reported 2: --out destroys notebooks

def test_student_out_keeps_files_it_did_not_make(tiny_notebooks, tmp_path, capsys):
    """Reported: `student --out mywork` deleted mywork/my_gan_experiments.ipynb."""
    mywork = tmp_path / "mywork"
    mywork.mkdir()
    mine = mywork / "my_gan_experiments.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("my_idea = 1")]), str(mine))
    before = mine.read_bytes()
    assert run_cli("--notebooks", tiny_notebooks, "student", "--out", mywork) == 0
    assert mine.read_bytes() == before
    assert sorted(p.name for p in mywork.iterdir()) == [
        "01_alpha.ipynb", "02_beta.ipynb", "03_broken.ipynb", "my_gan_experiments.ipynb"]


def test_student_refuses_the_lessons_folder(tiny_notebooks, capsys):
    """Reported: `student --out notebooks` stripped the solution cells from the source lessons."""
    before = snapshot(tiny_notebooks)
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "student", "--out", tiny_notebooks)
    assert "is the lessons folder" in err and "Pass another folder for --out" in err
    assert snapshot(tiny_notebooks) == before
    assert "SECRET-ANSWER" in (tiny_notebooks / "01_alpha.ipynb").read_text()
    # the same folder named another way (a trailing /., a symlink) is refused too
    link = tiny_notebooks.parent / "link"
    link.symlink_to(tiny_notebooks)
    usage_error(capsys, "--notebooks", tiny_notebooks, "student", "--out", f"{link}/.")
    assert snapshot(tiny_notebooks) == before


def test_run_refuses_the_lessons_folder(tiny_notebooks, capsys):
    """Reported: `run --fast --only 00 --out notebooks` replaced a lesson with its FAST executed copy."""
    before = snapshot(tiny_notebooks)
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "run", "--fast", "--only", "01", "--out", tiny_notebooks)
    assert "is the lessons folder" in err and "--in-place" in err
    assert snapshot(tiny_notebooks) == before


# ------------------------------------------------------------ reported 6: data messages

def test_missing_data_message_names_a_command_that_downloads(data_dir):
    """Reported: the missing-data error said "run `gan-lessons data`", which never downloads."""
    with pytest.raises(DataMissingError) as err:
        data.load_images("mnist", "test", device="cpu")
    msg = str(err.value)
    assert "`gan-lessons data`" not in msg and "`gan-lessons data --download`" in msg
    assert "downloads are switched off (GAN_LESSONS_OFFLINE=1)" in msg and "unset GAN_LESSONS_OFFLINE" in msg
    assert f"{data_dir / RAW}/, named exactly: train-images-idx3-ubyte.gz" in msg  # the exact layout


@pytest.mark.skipif(not HAVE_SHARED, reason=NEEDS_SHARED)
def test_corrupted_data_message_names_a_command_that_fixes_it(data_dir, monkeypatch, capsys):
    """Reported: the corrupted-data error said "Delete it and run `gan-lessons data`"; now its advice works."""
    raw = copy_mnist(data_dir)
    truncate(raw / "t10k-labels-idx1-ubyte.gz")
    monkeypatch.delenv("GAN_LESSONS_OFFLINE")
    with pytest.raises(DataCorruptedError) as err:
        data.load_images("mnist", "test", device="cpu")
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "Run `gan-lessons data --download`" in msg
    assert "`gan-lessons data` " not in msg
    online(monkeypatch, FakeTorchvisionMNIST)
    run_cli("data", "--download")  # following the advice
    assert data.load_images("mnist", "test", device="cpu").labels.shape == (10000,)


@pytest.mark.skipif(not HAVE_SHARED, reason=NEEDS_SHARED)
def test_download_replaces_a_corrupted_file_and_keeps_it_aside(data_dir, monkeypatch, capsys):
    """Reported: `data --download` skipped a dataset with a corrupted file, then recommended itself."""
    raw, bad, damaged = damaged_mnist_labels(data_dir)
    online(monkeypatch, FakeTorchvisionMNIST)
    FakeTorchvisionMNIST.fetched = []
    run_cli("data", "--download")
    out = capsys.readouterr().out
    assert "train-labels-idx1-ubyte.gz was damaged: kept as train-labels-idx1-ubyte.gz.corrupt" in out
    assert (raw / "train-labels-idx1-ubyte.gz.corrupt").read_bytes() == damaged  # kept, not deleted
    assert bad.read_bytes() == (SHARED / RAW / bad.name).read_bytes()
    assert "train-labels-idx1-ubyte.gz" in FakeTorchvisionMNIST.fetched
    assert [r["status"] for r in data.check_data("mnist")] == ["ok"] * 4


def test_download_when_downloads_are_switched_off_fails_and_says_so(data_dir, capsys):
    """Reported: with GAN_LESSONS_OFFLINE=1, `data --download` did nothing and exited 0."""
    code = run_cli("data", "--download")
    out = capsys.readouterr().out
    assert code == 1
    assert "nothing downloaded: downloads are switched off (GAN_LESSONS_OFFLINE=1)" in out
    assert f"{data_dir}/MNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte.gz" in out  # what to copy where


def test_read_only_cache_is_not_reported_as_no_network(tmp_path, monkeypatch):
    """Reported: a read-only ~/.cache (the default data folder) was reported as "no network"."""
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    monkeypatch.delenv("GAN_LESSONS_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache").chmod(0o555)

    def read_only(root, train=True, download=False):  # what torchvision raises there: os.makedirs fails
        raise PermissionError(errno.EACCES, "Permission denied", str(Path(root) / "MNIST"))

    monkeypatch.setattr(tvd, "MNIST", read_only)
    try:
        with pytest.raises(DataMissingError) as err:
            data.ensure_files("mnist")
    finally:
        (tmp_path / ".cache").chmod(0o755)
    msg = str(err.value)
    assert f"the data folder {tmp_path / '.cache' / 'gan-lessons' / 'data'} cannot be written to" in msg
    assert "Permission denied" in msg and "set GAN_LESSONS_DATA to a folder you can write to" in msg
    assert "no network" not in msg


# ------------------------------------------------------------ audit: the command line

def test_run_only_unknown_lesson(tiny_notebooks, capsys):
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "run", "--only", "9")
    assert "Unknown lesson '9'" in err and "01, 02, 03" in err


def test_run_only_number_with_or_without_zero_and_twice(tiny_notebooks, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(nbs, "execute", fake_execute(calls))
    assert run_cli("--notebooks", tiny_notebooks, "run", "--only", "3,03,1", "--out", tmp_path / "o") == 0
    assert calls == ["01_alpha.ipynb", "03_broken.ipynb"]  # once each, in lesson order


@pytest.mark.parametrize("only", ["", ",", " , "])
def test_run_only_empty_is_an_error_not_every_lesson(only, tiny_notebooks, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(nbs, "execute", fake_execute(calls))
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "run", "--only", only, "--out", tmp_path / "o")
    assert "--only got no lesson number" in err and "--only 03,05" in err
    assert calls == []


def test_run_device_gpu(tiny_notebooks, capsys):
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "run", "--device", "gpu")
    assert "Unknown device 'gpu'" in err and "'cuda'" in err


@pytest.mark.parametrize("timeout", ["0", "-5", "1.5"])
def test_run_timeout_must_be_positive(timeout, tiny_notebooks, tmp_path, monkeypatch, capsys):
    """nbclient treats a timeout of 0 or below as *no* limit at all: refuse it rather than run unbounded."""
    calls = []
    monkeypatch.setattr(nbs, "execute", fake_execute(calls))
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "run", "--timeout", timeout, "--out", tmp_path / "o")
    assert "argument --timeout" in err and ("at least 1 second" in err or "whole number" in err)
    assert calls == []


@pytest.mark.parametrize("command", [["student"], ["run"], ["site"], ["slides", "01"]])
def test_out_is_a_file(command, tiny_notebooks, tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    err = usage_error(capsys, "--notebooks", tiny_notebooks, *command, "--out", target)
    assert "is a file, not a folder" in err
    assert target.read_text() == "mine"


@pytest.mark.parametrize("command", [["student"], ["run"], ["site"], ["slides", "01"]])
def test_out_folder_read_only(command, tiny_notebooks, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: let the folder refuse the way a read-only one does
        def refuse(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied")
        monkeypatch.setattr(nbs.tempfile, "TemporaryFile", refuse)
    try:
        err = usage_error(capsys, "--notebooks", tiny_notebooks, *command, "--out", out)
    finally:
        out.chmod(0o755)
    assert f"Cannot write to {out} (Permission denied)" in err and "a folder you can write to" in err
    assert list(out.iterdir()) == []


def test_slides_unknown_and_empty_lesson(tiny_notebooks, tmp_path, capsys):
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "slides", "99", "--out", tmp_path / "s")
    assert "Unknown lesson '99'" in err and "01, 02, 03" in err
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "slides", "", "--out", tmp_path / "s")
    assert "slides got no lesson number" in err
    assert not (tmp_path / "s").exists() or list((tmp_path / "s").iterdir()) == []


def test_site_over_a_folder_with_other_files(tiny_notebooks, tmp_path, capsys):
    out = tmp_path / "homepage"
    out.mkdir()
    (out / "index.html").write_text("<h1>My homepage</h1>")
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "site", "--out", out)
    assert "index.html" in err and "--force" in err and "Nothing was written" in err
    assert (out / "index.html").read_text() == "<h1>My homepage</h1>"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    # its own earlier output is rebuilt without --force; --force overwrites the foreign file
    assert run_cli("--notebooks", tiny_notebooks, "site", "--out", tmp_path / "site") == 0
    assert run_cli("--notebooks", tiny_notebooks, "site", "--out", tmp_path / "site") == 0
    assert run_cli("--notebooks", tiny_notebooks, "site", "--out", out, "--force") == 0
    assert "Lesson 01: Alpha" in (out / "index.html").read_text()


def test_slides_over_a_file_of_the_same_name(tiny_notebooks, tmp_path, capsys):
    out = tmp_path / "talk"
    out.mkdir()
    (out / "01_alpha.slides.html").write_text("my own slides")
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "slides", "01", "--out", out)
    assert "01_alpha.slides.html" in err and "--force" in err
    assert (out / "01_alpha.slides.html").read_text() == "my own slides"
    assert run_cli("--notebooks", tiny_notebooks, "slides", "01", "--out", tmp_path / "s") == 0
    assert run_cli("--notebooks", tiny_notebooks, "slides", "01", "--out", tmp_path / "s") == 0  # its own: rebuilt


def test_run_out_over_a_notebook_it_did_not_make(tiny_notebooks, tmp_path, monkeypatch, capsys):
    out = tmp_path / "work"
    out.mkdir()
    mine = out / "01_alpha.ipynb"
    shutil.copy(tiny_notebooks / "01_alpha.ipynb", mine)
    nb = nbs.read(mine)
    nb.cells.append(nbformat.v4.new_code_cell("# my own notes"))
    nbs.write(nb, mine)
    before = mine.read_bytes()
    calls = []
    monkeypatch.setattr(nbs, "execute", fake_execute(calls))
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "run", "--only", "01", "--out", out)
    assert "01_alpha.ipynb" in err and "--force" in err
    assert mine.read_bytes() == before and calls == []
    # a folder of earlier executed copies is simply refreshed
    assert run_cli("--notebooks", tiny_notebooks, "run", "--out", tmp_path / "_run") == 0
    assert run_cli("--notebooks", tiny_notebooks, "run", "--out", tmp_path / "_run") == 0
    assert run_cli("--notebooks", tiny_notebooks, "run", "--only", "01", "--out", out, "--force") == 0


def test_student_out_over_a_learners_worked_copy(tiny_notebooks, tmp_path, capsys):
    out = tmp_path / "mywork"
    assert run_cli("--notebooks", tiny_notebooks, "student", "--out", out) == 0
    worked = out / "01_alpha.ipynb"
    nb = nbs.read(worked)
    nb.cells[4].source = "def square(x):\n    return x ** 2  # my answer"
    nb.cells[4].execution_count = 1  # the learner ran it; Jupyter saves the kernel's language_info
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nbs.write(nb, worked)
    before = worked.read_bytes()
    err = usage_error(capsys, "--notebooks", tiny_notebooks, "student", "--out", out)
    assert "01_alpha.ipynb" in err and "changed since" in err and "--force" in err
    assert worked.read_bytes() == before
    assert run_cli("--notebooks", tiny_notebooks, "student", "--out", out, "--force") == 0
    assert "my answer" not in worked.read_text()


def test_student_refreshes_its_own_copies_after_a_lesson_changes(tiny_notebooks, tmp_path, capsys):
    """`gan-lessons student` after editing a lesson (the documented workflow) updates student/ without --force."""
    out = tmp_path / "student"
    assert run_cli("--notebooks", tiny_notebooks, "student", "--out", out) == 0
    nb = nbs.read(tiny_notebooks / "02_beta.ipynb")
    nb.cells[0].source = "# Lesson 02: Beta, revised"
    nbs.write(nb, tiny_notebooks / "02_beta.ipynb")
    assert run_cli("--notebooks", tiny_notebooks, "student", "--out", out) == 0
    assert "Beta, revised" in (out / "02_beta.ipynb").read_text()


def test_student_over_the_committed_student_copies(tmp_path, capsys):
    """`make student` over the course's own student/ folder works without --force, also when lessons
    were edited since the copies were made (student/ then is stale, and is brought up to date)."""
    root = Path(__file__).resolve().parents[1]
    lessons, student = tmp_path / "notebooks", tmp_path / "student"
    shutil.copytree(root / "notebooks", lessons)
    shutil.copytree(root / "student", student)
    expected = nbs.student_files(lessons)
    assert run_cli("--notebooks", lessons, "student", "--out", student) == 0
    assert {p.name: p.read_text(encoding="utf-8") for p in student.glob("*.ipynb")} == expected


@pytest.mark.notebook
def test_run_in_place_of_a_failing_lesson_keeps_it(tiny_notebooks, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = (tiny_notebooks / "03_broken.ipynb").read_bytes()
    assert run_cli("--notebooks", tiny_notebooks, "run", "--in-place", "--only", "03") == 1
    assert (tiny_notebooks / "03_broken.ipynb").read_bytes() == before
    out = capsys.readouterr().out
    assert "03_broken.ipynb cell 3: ValueError: boom" in out and "_run/03_broken.ipynb" in out


@pytest.mark.parametrize("in_place", [False, True])
def test_ctrl_c_during_run(in_place, tiny_notebooks, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    calls = []
    finish = fake_execute(calls)

    def execute(path, out_path, **kwargs):
        if Path(path).name == "02_beta.ipynb":  # Ctrl-C while the second lesson runs
            Path(out_path).parent.mkdir(parents=True, exist_ok=True)
            Path(out_path).write_text("{partial")
            raise KeyboardInterrupt
        return finish(path, out_path, **kwargs)

    monkeypatch.setattr(nbs, "execute", execute)
    before = snapshot(tiny_notebooks)
    flags = ["--in-place"] if in_place else ["--out", tmp_path / "o"]
    assert run_cli("--notebooks", tiny_notebooks, "run", *flags) == 130
    out = capsys.readouterr().out
    assert "01_alpha.ipynb  ok" in out and "1 ok, 0 failed" in out
    assert "Interrupted (Ctrl-C) while running 02_beta.ipynb" in out and "Not run: 03_broken.ipynb" in out
    if in_place:  # lesson 01 was refreshed; 02 and 03 are as they were
        after = snapshot(tiny_notebooks)
        assert [after[n] for n in ("02_beta.ipynb", "03_broken.ipynb")] == [
            before[n] for n in ("02_beta.ipynb", "03_broken.ipynb")]
    else:
        assert snapshot(tiny_notebooks) == before
        assert "o/02_beta.ipynb is a partial executed copy" in out


def test_a_failed_write_leaves_the_old_notebook(tiny_notebooks, monkeypatch):
    """Refreshing a lesson (run --in-place) when the disk fills up half-way keeps the committed notebook."""
    path = tiny_notebooks / "01_alpha.ipynb"
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class DiskFull:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[:100])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nbs.os, "fdopen", lambda *a, **k: DiskFull(real_fdopen(*a, **k)))
    nb = nbs.read(path)
    with pytest.raises(OSError, match="No space left"):
        nbs.write(nb, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tiny_notebooks.iterdir()) == ["01_alpha.ipynb", "02_beta.ipynb", "03_broken.ipynb"]


def test_notebooks_folder_missing(tmp_path, capsys):
    err = usage_error(capsys, "--notebooks", tmp_path / "nope", "student", "--out", tmp_path / "s")
    assert "No notebook folder at" in err and "--notebooks DIR" in err
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------ audit: the data module

def test_load_images_unknown_name_suggests_the_right_one():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnist3'\. Did you mean 'mnist'\? "
                                         r"Choose one of: mnist, fashion-mnist"):
        data.load_images("mnist3")
    with pytest.raises(ValueError, match="Did you mean 'fashion-mnist'"):
        data.load_images("fashion")


def test_load_images_accepts_fashion_mnist_with_a_space(data_dir):
    assert data.canonical_name("Fashion MNIST") == "fashion-mnist"
    with pytest.raises(DataMissingError, match="The fashion-mnist files are not in"):
        data.load_images("Fashion MNIST", "test", device="cpu")


def test_load_images_validation_split(data_dir):
    with pytest.raises(ValueError, match=r"Unknown split 'validation'\..*'train'.*'test'.*hold out part of 'train'"):
        data.load_images("mnist", "validation", device="cpu")
    with pytest.raises(DataMissingError):  # 'Test' is the test split: it gets as far as looking for the files
        data.load_images("mnist", "Test", device="cpu")


def test_load_images_device_gpu(data_dir):
    with pytest.raises(ValueError, match=r"Unknown device 'gpu'.*'cpu', 'cuda'"):
        data.load_images("mnist", "test", device="gpu")


@pytest.mark.skipif(not HAVE_SHARED, reason=NEEDS_SHARED)
def test_truncated_gz_is_reported_as_corrupted(data_dir, capsys):
    raw = copy_mnist(data_dir)
    truncate(raw / "t10k-images-idx3-ubyte.gz")
    assert run_cli("data", "--check") == 1
    out = capsys.readouterr().out
    assert re.search(rf"t10k-images-idx3-ubyte +CORRUPTED +{re.escape(str(raw))}/t10k-images-idx3-ubyte.gz\n", out)
    with pytest.raises(DataCorruptedError, match="copy a good t10k-images-idx3-ubyte.gz over it"):
        data.load_images("mnist", "test", device="cpu")


@pytest.mark.skipif(not HAVE_SHARED, reason=NEEDS_SHARED)
def test_download_that_fails_puts_the_damaged_file_back(data_dir, monkeypatch, capsys):
    raw, bad, damaged = damaged_mnist_labels(data_dir)

    def no_network(root, train=True, download=False):  # what torchvision raises after every mirror failed
        raise RuntimeError("Error downloading train-labels-idx1-ubyte.gz")

    online(monkeypatch, no_network)
    assert run_cli("data", "--download") == 1
    out = capsys.readouterr().out
    assert "mnist: nothing downloaded: the download failed (RuntimeError: Error downloading" in out
    assert "no network" in out
    assert bad.read_bytes() == damaged and not (raw / "train-labels-idx1-ubyte.gz.corrupt").exists()


def test_data_folder_that_is_a_file(tmp_path, monkeypatch):
    target = tmp_path / "data.txt"
    target.write_text("not a folder")
    monkeypatch.setenv(data.ENV_DATA, str(target))
    online(monkeypatch, FakeTorchvisionMNIST)
    with pytest.raises(DataMissingError) as err:
        data.ensure_files("mnist")
    msg = str(err.value)
    assert f"the data folder {target} is a file, not a folder" in msg and "set GAN_LESSONS_DATA" in msg
    assert "no network" not in msg and target.read_text() == "not a folder"


def test_check_data_with_one_name_as_a_string(data_dir):
    rows = data.check_data("mnist")
    assert [r["dataset"] for r in rows] == ["mnist"] * 4 and {r["status"] for r in rows} == {"missing"}


def test_sample_batch_sizes():
    x = torch.arange(10.0).view(10, 1)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer.*got 0"):
        data.sample_batch(x, 0)
    with pytest.raises(ValueError, match=r"got 32\.0 \(float\)"):
        data.sample_batch(x, 32.0)
    with pytest.raises(ValueError, match=r"got True \(bool\)"):
        data.sample_batch(x, True)
    assert data.sample_batch(x, 25).shape == (25, 1)  # with replacement: larger than the data is fine
    assert data.sample_batch(x, np.int64(4)).shape == (4, 1)  # a numpy integer is a whole number


def test_sample_batch_wrong_data():
    with pytest.raises(TypeError, match="needs an ImageData .* or a tensor of examples, got list"):
        data.sample_batch([[0.0], [1.0]], 2)
    with pytest.raises(TypeError, match=r"got a numpy array: convert it once with torch\.as_tensor"):
        data.sample_batch(np.zeros((10, 2), dtype=np.float32), 2)
    with pytest.raises(TypeError, match="with_labels=True needs an ImageData"):
        data.sample_batch(torch.zeros(10, 2), 2, with_labels=True)
    with pytest.raises(ValueError, match=r"no examples to draw from \(a tensor of shape \(0, 2\)\)"):
        data.sample_batch(torch.zeros(0, 2), 2)

