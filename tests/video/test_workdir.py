"""The work folder: finished frames saved and loaded back exactly, and never mixed across settings."""

from __future__ import annotations

import numpy as np
import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.video.workdir import WorkFolder

SETTINGS = {"style.size": 32, "frame_iters": 2, "input": "/clips/a.mp4"}


def picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)


def test_saved_frames_load_back_bit_exact_with_their_stats(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    assert work.open(SETTINGS, restart=False) == 0
    stats = {"frame": 0, "iterations": 7, "warping_error": None, "style": 1.5e10}
    work.save_frame(0, picture(0), stats)
    work.save_frame(1, picture(1), {"frame": 1})
    loaded, loaded_stats = work.load_frame(0)
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, picture(0))
    assert loaded_stats == stats
    assert np.array_equal(work.load_frame(1)[0], picture(1))


def test_done_count_stops_at_the_first_missing_frame(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    work.open(SETTINGS, restart=False)
    for position in (0, 1, 3):
        work.save_frame(position, picture(position), {})
    assert work.done_count() == 2
    assert WorkFolder(tmp_path / ".work").open(SETTINGS, restart=False) == 2  # a rerun resumes there


def test_other_settings_are_refused_naming_the_change_and_restart_clears(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    work.open(SETTINGS, restart=False)
    work.save_frame(0, picture(0), {})
    changed = {**SETTINGS, "frame_iters": 3}
    with pytest.raises(StylevidError, match=r"other settings \(frame_iters: 2 then, 3 now\).*--restart"):
        work.open(changed, restart=False)
    assert work.done_count() == 1  # refusing kept the frames
    assert work.open(changed, restart=True) == 0
    assert not work.frame_path(0).exists()
    assert work.open(changed, restart=False) == 0  # the new settings are the folder's now


def test_an_unreadable_manifest_is_refused(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    work.open(SETTINGS, restart=False)
    (tmp_path / ".work" / "manifest.json").write_text("{torn", encoding="utf-8")
    with pytest.raises(StylevidError, match="unreadable manifest"):
        work.open(SETTINGS, restart=False)


def test_leftover_partial_writes_are_removed_on_open(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    work.open(SETTINGS, restart=False)
    leftover = work.frames_dir / ".000001.png.partial"
    leftover.write_bytes(b"half a frame")
    work.open(SETTINGS, restart=False)
    assert not leftover.exists()


def test_a_damaged_frame_file_names_itself(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    work.open(SETTINGS, restart=False)
    work.frame_path(0).write_bytes(b"not a png")
    with pytest.raises(StylevidError, match=r"000000\.png is damaged"):
        work.load_frame(0)


def test_resume_point_redoes_a_segment_cut_short(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    work.open(SETTINGS, restart=False)
    assert work.resume_point(0) == 0
    work.save_frame(0, picture(0), {})  # a frame optimised alone
    assert work.resume_point(1) == 1
    for position, closes in ((1, False), (2, False), (3, True), (4, False)):
        work.save_frame(position, picture(position), {"segment": [1 if position < 4 else 4, closes]})
    assert work.resume_point(3) == 1  # frames 1–2 of an unfinished segment: redo it from 1
    assert work.resume_point(4) == 4  # the segment 1–3 was closed
    assert work.resume_point(5) == 4


def test_history_and_snapshots_round_trip(tmp_path):
    work = WorkFolder(tmp_path / ".work")
    work.open(SETTINGS, restart=False)
    assert work.load_history() == ([], [])
    history = [{"total": 3.0}, {"total": 2.0}]
    work.save_history(history, [(0, picture(0)), (10, picture(10))])
    loaded_history, snapshots = work.load_history()
    assert loaded_history == history
    assert [i for i, _ in snapshots] == [0, 10]
    assert np.array_equal(snapshots[1][1], picture(10))
