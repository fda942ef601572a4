"""Folders of pictures of different sizes: a frame sequence is refused before any work; with
--frame-init independent they are a batch of photos, each stylised at its own size, resumably."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import CONTENT_FILE, STYLE_FILE, cli_error_line, run_cli
from PIL import Image

from stylevid.pipeline import PhotoBatchResult, StyleConfig, StylevidError, VideoConfig, stylize_photos
from stylevid.pipeline.batch.outputs import read_stamp
from stylevid.pipeline.io.images import fit_long_side, load_image
from stylevid.pipeline.progress import Progress
from stylevid.pipeline.validation import validate_run

FAST = ["--size", "32", "--iters", "2", "--device", "cpu", "--quiet"]
#: (name, width, height): landscape, portrait and square photos
PHOTOS = [("1 harbour.jpg", 60, 40), ("2 tower.png", 30, 50), ("3 square.png", 45, 45)]


def photo_folder(path: Path, photos=PHOTOS) -> Path:
    path.mkdir()
    for name, width, height in photos:
        Image.open(CONTENT_FILE).convert("RGB").resize((width, height)).save(path / name)
    (path / "notes.txt").write_text("not a picture")  # passed over, as in a frame folder
    return path


def batch_config(**style) -> VideoConfig:
    return VideoConfig(style=StyleConfig(size=32, iters=2, device="cpu", **style), frame_init="independent")


def test_a_sequence_of_mixed_sizes_is_refused_before_any_work(capsys, tmp_path):
    folder = photo_folder(tmp_path / "in")
    out = tmp_path / "out"
    message = cli_error_line(capsys, folder, "--style", STYLE_FILE, "-o", out, *FAST)
    assert "2 tower.png is 30×50 but the first, 1 harbour.jpg, is 60×40" in message
    assert "--frame-init independent" in message
    assert not out.exists()
    for frame_init in ("prev", "prev-warped"):
        with pytest.raises(StylevidError, match="differ in size"):
            validate_run(folder, [STYLE_FILE], out, batch_config().replace(frame_init=frame_init))


def test_a_mixed_batch_cannot_become_a_video(capsys, tmp_path):
    folder = photo_folder(tmp_path / "in")
    out = tmp_path / "out"
    message = cli_error_line(
        capsys, folder, "--style", STYLE_FILE, "-o", out, "--frame-init", "independent", "--to", "video", *FAST
    )
    assert "batch of photos" in message and "cannot become a video" in message
    assert not out.exists()


def test_one_sized_folders_stay_sequences_and_mixed_independent_ones_are_batches(tmp_path):
    same = photo_folder(tmp_path / "same", [("a.png", 40, 30), ("b.png", 40, 30)])
    mixed = photo_folder(tmp_path / "mixed")
    out = tmp_path / "out"
    assert validate_run(same, [STYLE_FILE], out, batch_config()) == "folder"
    assert validate_run(mixed, [STYLE_FILE], out, batch_config()) == "batch"
    # the window decides which pictures count: the first one alone is one size
    assert validate_run(mixed, [STYLE_FILE], out, batch_config().replace(end=1)) == "folder"


def test_a_batch_writes_each_photo_at_its_own_size_with_a_record(capsys, tmp_path):
    folder = photo_folder(tmp_path / "in")
    out = tmp_path / "out"
    code, printed, err = run_cli(capsys, folder, "--style", STYLE_FILE, "-o", out, "--frame-init", "independent", *FAST)
    assert code == 0, err
    assert printed.strip() == str(out)
    record = json.loads((out / "run.json").read_text())
    assert record["kind"] == "batch" and len(record["photos"]) == 3
    for (name, width, height), row in zip(PHOTOS, record["photos"]):
        written = out / f"{Path(name).stem}_stylised.png"
        expected = fit_long_side(width, height, 32)
        assert Image.open(written).size == expected  # long side 32, aspect kept
        assert row["name"] == name and row["status"] == "stylised" and row["output"] == str(written)
        assert row["source_size"] == [width, height] and row["processing_size"] == list(expected)
        assert row["iterations"] == 2 and row["seconds"] > 0 and row["final_losses"]["total"] > 0
        assert read_stamp(written)["stats"]["processing_size"] == list(expected)
    made = [".stylevid.lock", "1 harbour_stylised.png", "2 tower_stylised.png", "3 square_stylised.png", "run.json"]
    assert sorted(p.name for p in out.iterdir()) == made  # the lock file of one run per folder stays


class StopAfterFirstPhoto(Progress):
    """Presses Ctrl-C (a real SIGINT) while the first photo is being optimised."""

    def iteration(self, position, iteration, losses):
        if position == 0 and iteration == 1:
            os.kill(os.getpid(), signal.SIGINT)


def test_a_stopped_batch_resumes_without_redoing_finished_photos(tmp_path):
    folder = photo_folder(tmp_path / "in", PHOTOS[:2])
    styles = [load_image(STYLE_FILE)]
    out = tmp_path / "out"
    with pytest.raises(StylevidError, match=r"stopped after photo 1 \(1 harbour.jpg\)") as stopped:
        stylize_photos(folder, styles, out, batch_config(), progress=StopAfterFirstPhoto())
    assert stopped.value.exit_code == 130
    first = out / "1 harbour_stylised.png"
    assert sorted(p.name for p in out.glob("*.png")) == [first.name]
    assert [row["status"] for row in json.loads((out / "run.json").read_text())["photos"]] == ["stylised", "pending"]
    before = first.stat()

    resumed = stylize_photos(folder, styles, out, batch_config())
    assert isinstance(resumed, PhotoBatchResult)
    assert (resumed.stylised, resumed.done_earlier) == (1, 1)
    after = first.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not written again
    rows = resumed.record["photos"]
    assert [row["status"] for row in rows] == ["done earlier", "stylised"]
    assert rows[0]["final_losses"] and rows[0]["processing_size"] == [32, 21]  # numbers kept from the first run

    straight = stylize_photos(folder, styles, tmp_path / "straight", batch_config())
    for made, reference in zip(resumed.outputs, straight.outputs):
        assert np.array_equal(load_image(made), load_image(reference))


def test_outputs_made_otherwise_are_refused_before_any_work_unless_restarted(capsys, tmp_path):
    folder = photo_folder(tmp_path / "in", [("a.png", 40, 30), ("b.png", 30, 40)])
    out = tmp_path / "out"
    args = [folder, "--style", STYLE_FILE, "-o", out, "--frame-init", "independent", *FAST]
    assert run_cli(capsys, *args)[0] == 0
    message = cli_error_line(capsys, *args, "--iters", "3")  # the last --iters counts
    assert "a_stylised.png was made with other settings (style.iters: 2 then, 3 now)" in message
    assert "--restart" in message
    Image.open(CONTENT_FILE).convert("RGB").resize((40, 31)).save(folder / "a.png")  # the photo changed
    assert "made from another a.png" in cli_error_line(capsys, *args)
    stamped = (out / "b_stylised.png").stat().st_mtime_ns
    assert run_cli(capsys, *args, "--restart")[0] == 0
    assert (out / "b_stylised.png").stat().st_mtime_ns != stamped  # redone
    Image.new("RGB", (8, 8)).save(out / "a_stylised.png")  # not made by a batch
    assert "exists and was not made by a photo batch" in cli_error_line(capsys, *args)


def test_photos_sharing_an_output_name_are_refused(tmp_path):
    folder = photo_folder(tmp_path / "in", [("a.png", 40, 30), ("A.jpg", 30, 40)])
    with pytest.raises(StylevidError, match="would both be written as"):
        stylize_photos(folder, [load_image(STYLE_FILE)], tmp_path / "out", batch_config())
    assert not (tmp_path / "out").exists()


def test_an_unreadable_photo_is_reported_after_the_others_are_done(capsys, tmp_path):
    folder = photo_folder(tmp_path / "in", [("a.png", 40, 30), ("c.png", 30, 40)])
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    message = cli_error_line(capsys, folder, "--style", STYLE_FILE, "-o", out, "--frame-init", "independent", *FAST)
    assert message.startswith("stylevid: error: 1 of 3 photos failed, first b.png:")
    assert sorted(p.name for p in out.glob("*.png")) == ["a_stylised.png", "c_stylised.png"]
    statuses = [row["status"] for row in json.loads((out / "run.json").read_text())["photos"]]
    assert statuses == ["stylised", "failed", "stylised"]
