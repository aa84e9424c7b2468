"""Issue 13, files: histories, checkpoints, saved models and the scrubber against bad input and faults.

Each test reproduces one row of docs/reliability.md (section "Files"): what a learner or instructor could
realistically do, and the clear message (or the working result) they get. Nothing they made is lost.
"""
import errno
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from IPython.utils.capture import capture_output

from gan_lessons import checkpoints, io, models, pretrained, toy, train, widgets
from gan_lessons.errors import CheckpointError
from gan_lessons.history import History

pytestmark = pytest.mark.usefixtures("one_thread")  # fixture in conftest.py


class Note:
    """A custom class a learner might put in a config (pickle stores it; safe loading refuses it)."""

    def __init__(self, text):
        self.text = text


def _models():
    return models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)


@pytest.fixture(scope="module")
def run():
    torch.manual_seed(0)
    G, D = _models()
    opt_G, opt_D = train.make_optimizers(G, D)
    h = train.train(G, D, toy.Ring2D(), 6, batch_size=32, record_every=3, opt_G=opt_G, opt_D=opt_D, progress=False)
    return G, D, opt_G, opt_D, h


@pytest.fixture(scope="module", autouse=True)
def ipython_shell(tmp_path_factory):
    """An IPython shell, so `display` goes through it and `capture_output` sees the outputs."""
    from IPython.core.interactiveshell import InteractiveShell

    os.environ.setdefault("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
    return InteractiveShell.instance()


def _states(*modules):
    return [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]


def _same(a, b):
    return all(a_[k].equal(b_[k]) for a_, b_ in zip(a, b) for k in a_)


def _leftovers(folder):
    return [p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp")]


# -- reported 1: good files reported as corrupt -------------------------------------------------------

def test_history_of_a_run_with_a_numpy_lr_saves_and_loads(tmp_path):
    """The report: train(..., lr=np.float64(1e-3)); h.save; History.load said 'corrupted'."""
    torch.manual_seed(0)
    G, D = _models()
    h = train.train(G, D, toy.Ring2D(), 4, lr=np.float64(1e-3), batch_size=32, progress=False)
    # What train recorded before the fix (it may convert lr itself now): numpy values in the meta.
    h.meta["config"].update(lr=np.float64(1e-3), out=Path("runs"), sizes=np.arange(3), flag=np.bool_(True))
    h.save(tmp_path / "h.pt")
    h2 = History.load(tmp_path / "h.pt")
    cfg = h2.meta["config"]
    assert type(cfg["lr"]) is float and cfg["lr"] == 1e-3
    assert cfg["out"] == "runs" and cfg["flag"] is True and cfg["sizes"].tolist() == [0, 1, 2]
    assert h2.steps == h.steps and type(h.meta["config"]["lr"]) is np.float64  # the history in memory is untouched


def test_checkpoint_config_with_numpy_numbers_and_paths_loads(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, G, D, opt_G, opt_D, h,
                                config={"lr": np.float64(2e-4), "out": Path("runs"), "shape": (28, 28),
                                        "steps": np.int64(10), "grid": np.zeros((2, 2), dtype=np.float32)})
    cfg = checkpoints.load_checkpoint(path, *_models())["config"]
    assert type(cfg["lr"]) is float and type(cfg["steps"]) is int and cfg["out"] == "runs"
    assert cfg["shape"] == (28, 28) and torch.equal(cfg["grid"], torch.zeros(2, 2))


def test_a_value_that_would_not_load_is_refused_before_writing(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, G, D, opt_G, opt_D, h, config={"note": "good"})
    with pytest.raises(TypeError, match=r"config\['model'\].*safe loading.*Nothing was written"):
        checkpoints.save_checkpoint(path, G, D, opt_G, opt_D, h, config={"model": Note("mine")})
    assert checkpoints.load_checkpoint(path, *_models())["config"] == {"note": "good"}  # the good file is kept
    h.save(tmp_path / "h.pt")
    bad = History(h.kind, dict(h.meta, extra={"who": Note("me")}), h.snapshots)
    with pytest.raises(TypeError, match=r"history\['meta'\]\['extra'\]\['who'\]"):
        bad.save(tmp_path / "h.pt")
    assert History.load(tmp_path / "h.pt").steps == h.steps and not _leftovers(tmp_path)


def test_a_file_safe_loading_refuses_is_called_that_not_corrupted(tmp_path, run):
    """A file written with numpy values (by an earlier gan_lessons, or by hand) is intact, not corrupted."""
    d = run[-1].to_dict()
    d["meta"] = dict(d["meta"], lr=np.float64(1e-3))
    torch.save(d, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="safe loading refuses") as err:
        History.load(tmp_path / "old.pt")
    msg = str(err.value)
    assert "numpy" in msg and "weights_only=False" in msg and "not written by gan_lessons" in msg
    assert "corrupted" not in msg and "Delete" not in msg
    assert (tmp_path / "old.pt").exists()


# -- reported 2: "~" in paths ---------------------------------------------------------------------------

def test_tilde_means_the_home_folder_everywhere(tmp_path, run, monkeypatch):
    G, D, opt_G, opt_D, h = run
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir(), cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert checkpoints.save_checkpoint("~/runs/x.pt", G, D, opt_G, opt_D, h) == home / "runs" / "x.pt"
    assert checkpoints.load_checkpoint("~/runs/x.pt", *_models())["step"] == h.last_step
    h.save("~/h.pt")
    assert History.load("~/h.pt").steps == h.steps
    shutil.copytree(pretrained.PRETRAINED_DIR, home / "models")
    assert pretrained.list_pretrained(folder="~/models") == pretrained.list_pretrained()
    assert list(cwd.iterdir()) == []  # no folder literally named "~"
    assert (home / "h.pt").is_file()


# -- reported 3: a reused LiveScrubber ------------------------------------------------------------------

def _two_runs(live):
    torch.manual_seed(0)
    out = []
    for steps in (10, 20):
        G, D = models.MLPGenerator(1, 1, hidden=8), models.MLPDiscriminator(1, hidden=8)
        with capture_output() as cap:
            h = train.train(G, D, toy.Gaussian1D(), steps, batch_size=16, record_every=10, progress=False,
                            callback=live.update)
        out.append((h, cap))
    return out


def test_a_reused_live_scrubber_switches_to_the_new_run(monkeypatch):
    monkeypatch.delenv("GAN_LESSONS_HEADLESS", raising=False)
    live = widgets.LiveScrubber(min_interval=0)
    (h1, cap1), (h2, cap2) = _two_runs(live)
    assert "new run" not in cap1.stdout
    assert cap2.stdout.count("LiveScrubber: a new run") == 1  # said once
    assert len(cap2.outputs) == 1  # the new run is shown (again) where it trains
    s = live.scrubber
    assert s.history is h2 and s.slider.max == len(h2) - 1 and s.label.value.startswith("step 20 ")
    assert live.updates == len(h2)


def test_a_reused_headless_live_scrubber_shows_a_new_picture(monkeypatch):
    monkeypatch.setenv("GAN_LESSONS_HEADLESS", "1")
    live = widgets.LiveScrubber(min_interval=0)
    (h1, _), (h2, cap2) = _two_runs(live)
    assert cap2.stdout.count("LiveScrubber: a new run") == 1
    assert any("image/png" in o.data for o in cap2.outputs) and live.history is h2


# -- reported 4: load_checkpoint with models and optimizers that do not fit ---------------------------------

def test_load_checkpoint_into_other_models_names_both(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, opt_G, opt_D, h)
    with pytest.raises(CheckpointError, match=r"another architecture.*'hidden': 8.*'hidden': 32"):
        checkpoints.load_checkpoint(path, models.MLPGenerator(2, 2, hidden=32), D)
    # Models without a `config` (a learner's own nn.Sequential): the shapes tell.
    mine = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 2))
    path2 = checkpoints.save_checkpoint(tmp_path / "s.pt", mine, D)
    other = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Linear(16, 2))
    before = _states(other)
    with pytest.raises(CheckpointError, match=r"0.weight: saved \[4, 2\], yours \[16, 2\]"):
        checkpoints.load_checkpoint(path2, other, D)
    assert _same(before, _states(other))


def test_load_checkpoint_with_optimizers_of_the_other_model(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, opt_G, opt_D, h)
    G2, D2 = _models()
    o_G, o_D = train.make_optimizers(G2, D2)
    before = _states(G2, D2)
    with pytest.raises(ValueError, match="opt_G does not optimize G's parameters.*swapped"):
        checkpoints.load_checkpoint(path, G2, D2, o_D, o_G)  # swapped
    with pytest.raises(ValueError, match="opt_D does not optimize D's parameters"):
        checkpoints.load_checkpoint(path, G2, D2, o_G, torch.optim.Adam(G2.parameters()))  # opt_D built for G
    with pytest.raises(CheckpointError, match="for 6 parameter tensors.*has 2.*another model"):
        checkpoints.load_checkpoint(path, G2, D2, torch.optim.Adam(G2.net[0].parameters()), o_D)
    assert _same(before, _states(G2, D2)) and not o_G.state  # nothing was loaded


def test_a_checkpoint_saved_with_swapped_optimizers_is_refused_on_loading(tmp_path, run):
    """A file written before save_checkpoint checked its optimizers, with opt_G's and opt_D's states swapped."""
    G, D, opt_G, opt_D, h = run
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, opt_G, opt_D, h)
    payload = torch.load(path, weights_only=True)
    payload["opt_G"], payload["opt_D"] = payload["opt_D"], payload["opt_G"]
    io.atomic_save(payload, path)
    G2, D2 = _models()
    o_G, o_D = train.make_optimizers(G2, D2)
    with pytest.raises(CheckpointError, match=r"saved opt_G state does not fit.*where your parameter has"):
        checkpoints.load_checkpoint(path, G2, D2, o_G, o_D)
    assert not o_G.state and not o_D.state


# -- audit: history files ----------------------------------------------------------------------------------

def test_history_load_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"No history at .*nope.pt\. Check the path"):
        History.load(tmp_path / "nope.pt")


def test_history_load_empty_file(tmp_path):
    (tmp_path / "h.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty .0 bytes.*Save it again"):
        History.load(tmp_path / "h.pt")


def test_history_load_truncated_file(tmp_path, run):
    path = run[-1].save(tmp_path / "h.pt")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="truncated or corrupted.*earlier copy"):
        History.load(path)


def test_history_load_a_folder(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder, not a history file"):
        History.load(tmp_path)


def test_save_into_a_read_only_folder(tmp_path, run, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the system refuse as it would for a learner
        def refuse(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied", str(folder / ".h.pt.x.tmp"))
        monkeypatch.setattr(io.tempfile, "mkstemp", refuse)
    else:
        folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match=r"Cannot save the history to .*h.pt: no permission to write in "
                                                  r"the folder .*ro \(read-only.*Nothing was written"):
            run[-1].save(folder / "h.pt")
    finally:
        folder.chmod(0o755)
    assert list(folder.iterdir()) == []


def test_save_creates_missing_folders(tmp_path, run):
    path = run[-1].save(tmp_path / "new" / "deeper" / "h.pt")
    assert History.load(path).steps == run[-1].steps


def test_save_onto_a_folder(tmp_path, run):
    (tmp_path / "runs").mkdir()
    with pytest.raises(IsADirectoryError, match=r"it is a folder. Give a file name in it, e.g. .*runs/history.pt"):
        run[-1].save(tmp_path / "runs")
    assert list((tmp_path / "runs").iterdir()) == [] and not _leftovers(tmp_path)


def test_save_below_a_file(tmp_path, run):
    (tmp_path / "c.pt").write_bytes(b"mine")
    with pytest.raises(NotADirectoryError, match=r"c.pt is a file, not a folder"):
        run[-1].save(tmp_path / "c.pt" / "h.pt")
    assert (tmp_path / "c.pt").read_bytes() == b"mine"


def test_history_from_a_newer_version(tmp_path, run):
    d = run[-1].to_dict()
    d["version"] = 99
    torch.save(d, tmp_path / "h.pt")
    with pytest.raises(CheckpointError, match="newer gan-lessons .history version 99.*upgrade"):
        History.load(tmp_path / "h.pt")


def test_a_checkpoint_passed_to_history_load(tmp_path, run):
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", *run)
    with pytest.raises(CheckpointError, match=r"not a gan-lessons history.*It is a checkpoint.*load_checkpoint"):
        History.load(path)


def test_concurrent_saves_leave_one_whole_file(tmp_path, run):
    h = run[-1]
    a, b = History(h.kind, dict(h.meta, who="a"), h.snapshots), History(h.kind, dict(h.meta, who="b"), h.snapshots)
    path = tmp_path / "h.pt"
    threads = [threading.Thread(target=lambda x=x: [x.save(path) for _ in range(8)]) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert History.load(path).meta["who"] in ("a", "b") and not _leftovers(tmp_path)


def _half_then(exc):
    def save(obj, f):
        f.write(b"PK\x03\x04 half a file")
        raise exc
    return save


def test_interrupt_during_save_keeps_the_old_file(tmp_path, run, monkeypatch):
    h = run[-1]
    path = h.save(tmp_path / "h.pt")
    old = path.read_bytes()
    monkeypatch.setattr(io.torch, "save", _half_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        h.save(path)
    assert path.read_bytes() == old and not _leftovers(tmp_path)


def test_disk_full_during_save_keeps_the_old_file(tmp_path, run, monkeypatch):
    h = run[-1]
    path = h.save(tmp_path / "h.pt")
    old = path.read_bytes()
    monkeypatch.setattr(io.torch, "save", _half_then(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OSError, match="No space left on device. The file already there is unchanged"):
        h.save(path)
    assert path.read_bytes() == old and not _leftovers(tmp_path)


# -- audit: checkpoints --------------------------------------------------------------------------------------

def test_a_history_passed_to_load_checkpoint(tmp_path, run):
    path = run[-1].save(tmp_path / "h.pt")
    with pytest.raises(CheckpointError, match=r"holds a training history .*History.load\(path\)"):
        checkpoints.load_checkpoint(path, *_models())


def test_checkpoint_from_a_newer_version(tmp_path, run):
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", *run)
    payload = torch.load(path, weights_only=True)
    payload["version"] = 2
    io.atomic_save(payload, path)
    G, D = _models()
    before = _states(G, D)
    with pytest.raises(CheckpointError, match="newer gan-lessons .checkpoint version 2"):
        checkpoints.load_checkpoint(path, G, D)
    assert _same(before, _states(G, D))


def test_load_checkpoint_with_G_and_D_swapped(tmp_path, run):
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", *run)
    G, D = _models()
    with pytest.raises(CheckpointError, match=r"another architecture \(G and D swapped\?\)"):
        checkpoints.load_checkpoint(path, D, G)


def test_asking_for_optimizer_state_a_checkpoint_lacks_leaves_the_models_alone(tmp_path, run):
    G, D, *_ = run
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", G, D)  # no optimizers saved
    G2, D2 = _models()
    o_G, o_D = train.make_optimizers(G2, D2)
    before = _states(G2, D2)
    with pytest.raises(CheckpointError, match=r"no opt_G state.*load_checkpoint\(path, G, D\)"):
        checkpoints.load_checkpoint(path, G2, D2, o_G, o_D)
    assert _same(before, _states(G2, D2))  # before the fix G2 and D2 were overwritten, then the error came


def test_save_checkpoint_with_a_step_before_the_history(tmp_path, run):
    with pytest.raises(ValueError, match="step=2 comes before the history's last snapshot .step 6"):
        checkpoints.save_checkpoint(tmp_path / "c.pt", *run, step=2)
    with pytest.raises(ValueError, match="step must be a whole number"):
        checkpoints.save_checkpoint(tmp_path / "c.pt", *run, step=6.5)
    assert not (tmp_path / "c.pt").exists()
    assert checkpoints.load_checkpoint(checkpoints.save_checkpoint(tmp_path / "c.pt", *run, step=np.int64(9)),
                                       *_models())["step"] == 9


def test_save_checkpoint_arguments_in_the_wrong_order_or_of_the_wrong_kind(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    with pytest.raises(TypeError, match=r"save_checkpoint\(path, G, D, ...\): path must be a file name.*"
                                        r"got MLPGenerator. The path comes first"):
        checkpoints.save_checkpoint(G, D, tmp_path / "c.pt")
    with pytest.raises(TypeError, match="history must be a History"):
        checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, history=h.snapshots)
    with pytest.raises(TypeError, match="config must be a dict"):
        checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, config="lr=2e-4")
    assert not (tmp_path / "c.pt").exists()


def test_save_checkpoint_with_swapped_optimizers_is_refused(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    with pytest.raises(ValueError, match="opt_G does not optimize G's parameters.*swapped"):
        checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, opt_D, opt_G, h)
    assert not (tmp_path / "c.pt").exists()


def test_load_checkpoint_into_another_kind_of_optimizer(tmp_path, run):
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", *run)
    G, D = _models()
    sgd, o_D = torch.optim.SGD(G.parameters(), lr=0.1, momentum=0.9), torch.optim.Adam(D.parameters())
    with pytest.raises(CheckpointError, match=r"opt_G was saved from torch.optim.Adam, but you passed torch.optim.SGD"):
        checkpoints.load_checkpoint(path, G, D, sgd, o_D)
    assert sgd.param_groups[0]["lr"] == 0.1


def test_an_optimizer_with_a_numpy_lr_saves_and_resumes(tmp_path, run):
    G, D, *_ = run
    opt_G, opt_D = torch.optim.Adam(G.parameters(), lr=np.float64(1e-3)), torch.optim.Adam(D.parameters())
    path = checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, opt_G, opt_D)
    G2, D2 = _models()
    o_G, o_D = torch.optim.Adam(G2.parameters()), torch.optim.Adam(D2.parameters())
    checkpoints.load_checkpoint(path, G2, D2, o_G, o_D)
    assert o_G.param_groups[0]["lr"] == 1e-3


# -- audit: saved models ---------------------------------------------------------------------------------------

def test_load_pretrained_suggests_close_names():
    with pytest.raises(KeyError, match=r"No saved model named 'dcgan_mnist'. Did you mean 'dcgan-mnist'"):
        pretrained.load_pretrained("dcgan_mnist", device="cpu")


def test_load_pretrained_with_a_name_of_the_wrong_type():
    with pytest.raises(TypeError, match=r"name must be a str such as 'dcgan-mnist', got list.*Available: "):
        pretrained.load_pretrained(["dcgan-mnist"], device="cpu")
    with pytest.raises(TypeError, match="got NoneType"):
        pretrained.pretrained_info(None)


def test_load_pretrained_on_a_device_named_gpu():
    with pytest.raises(ValueError, match=r"Unknown device 'gpu'.*'cpu', 'cuda'"):
        pretrained.load_pretrained("dcgan-mnist", device="gpu")


def test_loading_saved_models_writes_nothing(tmp_path):
    """A read-only install: loading the saved models and histories must not write into their folder."""
    folder = tmp_path / "site-packages-pretrained"
    shutil.copytree(pretrained.PRETRAINED_DIR, folder)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    for p in [folder, *folder.iterdir()]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        name = pretrained.list_pretrained(folder)[0]
        pretrained.load_pretrained(name, device="cpu", folder=folder)
        pretrained.load_pretrained_history(name, folder=folder)
        pretrained.load_feature_net("mnist", device="cpu", folder=folder)
    finally:
        folder.chmod(0o755)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before


# -- audit: the scrubber -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("thing", [[1, 2], {"format": "gan-lessons-history"}])
def test_scrub_of_something_else_than_a_history(thing):
    with pytest.raises(TypeError, match=r"scrub needs a History .*History.load\(path\)"):
        widgets.scrub(thing)


def test_scrub_of_a_loaded_history(tmp_path, run, monkeypatch):
    monkeypatch.delenv("GAN_LESSONS_HEADLESS", raising=False)
    h = History.load(run[-1].save(tmp_path / "h.pt"))
    s = widgets.scrub(h)
    assert s.indices == list(range(len(h))) and s.label.value.startswith(f"step {h.last_step} ")


@pytest.mark.parametrize("max_frames", [0, -3, 2.5])
def test_scrub_with_a_frame_count_that_cannot_work(run, max_frames):
    with pytest.raises(ValueError, match=rf"max_frames must be a whole number >= 1.*got {max_frames}"):
        widgets.scrub(run[-1], max_frames=max_frames)
    with pytest.raises(ValueError, match="headless_frames must be a whole number"):
        widgets.scrub(run[-1], headless_frames=max_frames)


def test_scrub_of_a_history_with_one_snapshot(run, monkeypatch):
    h = run[-1]
    one = History(h.kind, h.meta, h.snapshots[:1])
    monkeypatch.delenv("GAN_LESSONS_HEADLESS", raising=False)
    s = widgets.scrub(one)
    assert s.indices == [0] and s.slider.max == 0 and bytes(s.image.value).startswith(b"\x89PNG")
    monkeypatch.setenv("GAN_LESSONS_HEADLESS", "1")
    with capture_output() as cap:
        widgets.scrub(one)
    assert "image/png" in cap.outputs[0].data and "Animation(" in cap.outputs[-1].data[widgets.PLAYER_MIME]


def test_live_scrubber_given_something_else_than_a_history():
    with pytest.raises(TypeError, match=r"LiveScrubber.update is called by train with the run's History.*got list"):
        widgets.LiveScrubber().update([{"step": 0}])
