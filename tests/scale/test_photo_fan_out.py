"""A batch of unrelated photos spread over the Ray workers (session cluster, 2 CPU workers): the same
pictures as one process, a killed worker's photos made again, and a rerun skips what is finished."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from conftest import CONTENT_FILE, STYLE_FILE
from PIL import Image

pytest.importorskip("ray")

from stylevid.pipeline import StyleConfig, VideoConfig, stylize_photos  # noqa: E402
from stylevid.pipeline.io.images import load_image  # noqa: E402

#: (name, width, height): photos of different sizes
PHOTOS = [(f"{i} photo.png", 40 + 6 * i, 30 + 4 * (i % 3)) for i in range(6)]
CONFIG = VideoConfig(style=StyleConfig(size=32, iters=3, device="cpu"), frame_init="independent", workers=2)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos")
    for name, width, height in PHOTOS:
        Image.open(CONTENT_FILE).convert("RGB").resize((width, height)).save(path / name)
    return path


@pytest.fixture(scope="module")
def styles():
    return [load_image(STYLE_FILE)]


@pytest.fixture(scope="module")
def in_process(folder, styles, tmp_path_factory):
    """The batch in this process, one torch thread (as each CPU worker of a 2-CPU cluster has)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return stylize_photos(folder, styles, tmp_path_factory.mktemp("here"), CONFIG.replace(workers=0))
    finally:
        torch.set_num_threads(threads)


def pictures(result) -> list[np.ndarray]:
    return [np.asarray(Image.open(path)) for path in result.outputs]


def test_photos_on_workers_are_the_pictures_of_one_process_and_a_rerun_skips_them(
    ray_cluster, folder, styles, in_process, tmp_path
):
    result = stylize_photos(folder, styles, tmp_path, CONFIG)
    assert result.stylised == len(PHOTOS)
    assert all(np.array_equal(a, b) for a, b in zip(pictures(result), pictures(in_process), strict=True))
    workers = result.record["scale_out"]["workers"]
    assert len(workers) == 2 and sum(w["items"] for w in workers) == len(PHOTOS)
    assert {row["worker"] for row in result.record["photos"]} == {0, 1}  # both took part
    again = stylize_photos(folder, styles, tmp_path, CONFIG)
    assert again.stylised == 0 and again.done_earlier == len(PHOTOS)


def test_a_killed_worker_s_photos_are_made_again_with_the_same_result(
    ray_cluster, folder, styles, in_process, tmp_path, monkeypatch
):
    from stylevid.pipeline.scale import photos

    killed: list[int] = []
    start_pool = photos.start_pool

    def start_and_kill_one_while_it_works(config, styles):
        pool = start_pool(config, styles)
        victim = pool.described[1]["pid"]
        fan_out = photos.fan_out

        def fan_out_killing(pool, keys, load, task_of, stop_requested):
            loaded = []

            def load_then_kill(key):
                # photos are handed out one to each worker in turn: once the fourth is being read,
                # worker 2 holds the second, and is killed with it
                loaded.append(key)
                if len(loaded) == photos.DEPTH + 2:
                    killed.append(victim)
                    os.kill(victim, signal.SIGKILL)
                return load(key)

            yield from fan_out(pool, keys, load_then_kill, task_of, stop_requested)

        monkeypatch.setattr(photos, "fan_out", fan_out_killing)
        return pool

    monkeypatch.setattr(photos, "start_pool", start_and_kill_one_while_it_works)
    result = stylize_photos(folder, styles, tmp_path, CONFIG)
    assert killed and result.record["scale_out"]["workers"][1]["restarts"] == 1
    assert result.stylised == len(PHOTOS)
    assert all(np.array_equal(a, b) for a, b in zip(pictures(result), pictures(in_process), strict=True))
