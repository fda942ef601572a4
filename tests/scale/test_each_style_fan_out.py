"""--each-style on the Ray workers (session cluster, 2 CPU workers): each style of an image is one
task, every (photo, style) pair of a batch is one; the pictures are those of one process."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CONTENT_FILE, MEDIA, STYLE_FILE
from PIL import Image

pytest.importorskip("ray")

from stylevid.pipeline import StyleConfig, VideoConfig, stylize_each_style  # noqa: E402

STYLES = [STYLE_FILE, MEDIA / "styles" / "hokusai_great_wave.jpg"]
STYLE = StyleConfig(size=32, iters=3, device="cpu")
ON_WORKERS = VideoConfig(style=STYLE, frame_init="independent", workers=2)
#: (name, width, height): photos of different sizes (a batch)
PHOTOS = [("a.png", 40, 30), ("b.png", 30, 44), ("c.png", 36, 36)]


def picture(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def one_thread(run):
    """``run()`` with one torch thread, as each CPU worker of the 2-CPU session cluster has."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run()
    finally:
        torch.set_num_threads(threads)


def test_each_style_of_an_image_is_a_task_on_the_workers_with_the_pictures_of_one_process(ray_cluster, tmp_path):
    content = tmp_path / "neckarfront.png"
    Image.open(CONTENT_FILE).convert("RGB").resize((48, 32)).save(content)
    here = one_thread(lambda: stylize_each_style(content, STYLES, tmp_path / "here", STYLE))
    result = stylize_each_style(content, STYLES, tmp_path / "there", ON_WORKERS)
    assert result.stylised == 2
    for mine, theirs in zip(result.outputs, here.outputs, strict=True):
        assert np.array_equal(picture(mine), picture(theirs))
        assert (mine.parent / "progress.gif").is_file() and (mine.parent / "losses.png").is_file()
    summary = json.loads((tmp_path / "there" / "run.json").read_text())
    assert {row["worker"] for row in summary["styles"]} == {0, 1}  # one style to each worker
    assert len(summary["scale_out"]["workers"]) == 2
    again = stylize_each_style(content, STYLES, tmp_path / "there", ON_WORKERS)  # starts no workers
    assert (again.stylised, again.done_earlier) == (0, 2)


def test_every_photo_and_style_pair_of_a_batch_is_a_task_on_the_workers(ray_cluster, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, width, height in PHOTOS:
        Image.open(CONTENT_FILE).convert("RGB").resize((width, height)).save(folder / name)
    one_thread(lambda: stylize_each_style(folder, STYLES, tmp_path / "here", ON_WORKERS.replace(workers=0)))
    result = stylize_each_style(folder, STYLES, tmp_path / "there", ON_WORKERS)
    assert result.kind == "batch" and result.stylised == 2
    for style in STYLES:
        mine, theirs = tmp_path / "there" / style.stem, tmp_path / "here" / style.stem
        for name, _, _ in PHOTOS:
            stem = name.removesuffix(".png")
            assert np.array_equal(picture(mine / f"{stem}_stylised.png"), picture(theirs / f"{stem}_stylised.png"))
        record = json.loads((mine / "run.json").read_text())
        assert record["each_style"]["style"] == str(style)
        assert sum(w["items"] for w in record["scale_out"]["workers"]) == len(PHOTOS) * len(STYLES)
    workers = {
        row["worker"]
        for s in STYLES
        for row in json.loads((tmp_path / "there" / s.stem / "run.json").read_text())["photos"]
    }
    assert workers == {0, 1}
    again = stylize_each_style(folder, STYLES, tmp_path / "there", ON_WORKERS)  # every photo stamped: no workers
    assert (again.stylised, again.done_earlier) == (0, 2)
