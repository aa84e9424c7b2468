"""Histories and checkpoints survive saving, crashes during saving, and reject bad files clearly."""
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from gan_lessons import checkpoints, models, seed_everything, toy, train
from gan_lessons.errors import CheckpointError
from gan_lessons.history import History
from gan_lessons.io import safe_load


@pytest.fixture(scope="module")
def run():
    seed_everything(0)
    G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    opt_G, opt_D = train.make_optimizers(G, D)
    h = train.train(G, D, toy.Ring2D(), 10, record_every=5, opt_G=opt_G, opt_D=opt_D, progress=False)
    return G, D, opt_G, opt_D, h


def test_history_round_trip(tmp_path, run):
    h = run[-1]
    h.save(tmp_path / "h.pt")
    h2 = History.load(tmp_path / "h.pt")
    assert h2.kind == h.kind and h2.steps == h.steps
    assert torch.equal(h2[-1]["d_grid"], h[-1]["d_grid"])
    assert torch.equal(h2.meta["fixed_z"], h.meta["fixed_z"])


def test_history_extend_and_order():
    a = History("2d", snapshots=[{"step": 0}, {"step": 5}])
    b = History("2d", snapshots=[{"step": 10}])
    assert a.extend(b).steps == [0, 5, 10]
    with pytest.raises(ValueError, match="comes before"):
        a.append({"step": 3})
    with pytest.raises(ValueError, match="cannot extend"):
        a.extend(History("1d"))


def test_checkpoint_is_written_atomically(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    checkpoints.save_checkpoint(tmp_path / "c.pt", G, D, opt_G, opt_D, h)
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind


def test_checkpoint_survives_a_kill_during_save(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, G, D, opt_G, opt_D, h, config={"version": "old"})
    # Another process keeps rewriting the checkpoint with a large payload; kill it mid-write.
    script = textwrap.dedent(f"""
        import torch
        from gan_lessons import checkpoints, models
        G, D = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
        big = {{"padding": torch.randn(4_000_000)}}
        print("ready", flush=True)
        while True:
            checkpoints.save_checkpoint({str(path)!r}, G, D, config=big)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.7)
    proc.kill()
    proc.wait()
    G2, D2 = models.MLPGenerator(2, 2, hidden=8), models.MLPDiscriminator(2, hidden=8)
    state = checkpoints.load_checkpoint(path, G2, D2)  # old or new, never half a file
    assert state["config"].get("version") == "old" or "padding" in state["config"]


def test_missing_checkpoint(tmp_path, run):
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        checkpoints.load_checkpoint(tmp_path / "nope.pt", run[0], run[1])


def test_truncated_checkpoint(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, G, D, opt_G, opt_D, h)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        checkpoints.load_checkpoint(path, G, D)


def test_corrupted_checkpoint(tmp_path, run):
    path = tmp_path / "c.pt"
    path.write_bytes(b"this is not a checkpoint at all" * 100)
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        checkpoints.load_checkpoint(path, run[0], run[1])


def test_empty_checkpoint(tmp_path, run):
    path = tmp_path / "c.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        checkpoints.load_checkpoint(path, run[0], run[1])


def test_foreign_checkpoint(tmp_path, run):
    path = tmp_path / "c.pt"
    torch.save({"model": run[0].state_dict()}, path)
    with pytest.raises(CheckpointError, match="not a gan-lessons checkpoint"):
        checkpoints.load_checkpoint(path, run[0], run[1])


def test_checkpoint_of_another_architecture(tmp_path, run):
    G, D, opt_G, opt_D, h = run
    path = tmp_path / "c.pt"
    checkpoints.save_checkpoint(path, G, D, opt_G, opt_D, h)
    with pytest.raises(CheckpointError, match="another architecture"):
        checkpoints.load_checkpoint(path, models.MLPGenerator(2, 2, hidden=32), D)
    with pytest.raises(CheckpointError, match="another architecture"):
        checkpoints.load_checkpoint(path, models.DCGANGenerator(8, 4), D)


def test_pickled_code_is_refused(tmp_path, run, capsys):
    class Evil:
        def __reduce__(self):  # unpickling would call print("pwned")
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "gan-lessons-checkpoint", "x": Evil()}, path)
    with pytest.raises(CheckpointError, match="safe loading refuses") as err:
        safe_load(path)
    assert "corrupted" not in str(err.value) and "weights_only=False" in str(err.value)
    with pytest.raises(CheckpointError, match="safe loading refuses"):
        checkpoints.load_checkpoint(path, run[0], run[1])
    assert "pwned" not in capsys.readouterr().out  # the code in the file never ran
