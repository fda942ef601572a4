"""Middlebury .flo files: the exact byte layout, a round trip, and one clear line for a bad file."""

from __future__ import annotations

import numpy as np
import pytest

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.flo import FLO_MAGIC, read_flo, read_flo_size, read_mask_png, write_flo, write_mask_png


def test_round_trip_keeps_every_value(tmp_path):
    flow = np.random.default_rng(0).normal(scale=5, size=(7, 11, 2)).astype(np.float32)
    path = write_flo(tmp_path / "a.flo", flow)
    assert read_flo_size(path) == (7, 11)
    back = read_flo(path)
    assert back.dtype == np.float32 and back.shape == (7, 11, 2)
    np.testing.assert_array_equal(back, flow)


def test_layout_is_magic_width_height_then_interleaved_u_v(tmp_path):
    flow = np.zeros((2, 3, 2), np.float32)
    flow[1, 2] = (4.5, -1.25)  # row 1, column 2: u then v
    raw = write_flo(tmp_path / "b.flo", flow).read_bytes()
    assert raw[:4] == b"PIEH" and np.frombuffer(raw[:4], "<f4")[0] == np.float32(FLO_MAGIC) == 202021.25
    assert tuple(np.frombuffer(raw[4:12], "<i4")) == (3, 2)  # width, height
    values = np.frombuffer(raw[12:], "<f4")
    assert len(values) == 2 * 3 * 2 and tuple(values[-2:]) == (4.5, -1.25)


def test_a_file_written_by_hand_reads_as_expected(tmp_path):
    # independent of write_flo: bytes as the Middlebury spec lays them out
    u, v = np.arange(6, dtype="<f4").reshape(2, 3), -np.arange(6, dtype="<f4").reshape(2, 3)
    body = np.stack([u, v], axis=-1).astype("<f4").tobytes()
    path = tmp_path / "hand.flo"
    path.write_bytes(np.array([202021.25], "<f4").tobytes() + np.array([3, 2], "<i4").tobytes() + body)
    flow = read_flo(path)
    np.testing.assert_array_equal(flow[..., 0], u)
    np.testing.assert_array_equal(flow[..., 1], v)


@pytest.mark.parametrize(
    "content,words",
    [
        (np.array([1.0], "<f4").tobytes() + np.array([3, 2], "<i4").tobytes() + bytes(48), "magic number"),
        (b"PIE", "not a .flo"),
        (np.array([FLO_MAGIC], "<f4").tobytes() + np.array([3, 2], "<i4").tobytes() + bytes(20), "cut short"),
        (np.array([FLO_MAGIC], "<f4").tobytes() + np.array([-3, 2], "<i4").tobytes(), "impossible"),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path, content, words):
    path = tmp_path / "bad.flo"
    path.write_bytes(content)
    with pytest.raises(StylevidError) as error:
        read_flo(path)
    message = str(error.value)
    assert words in message and str(path) in message and "\n" not in message


def test_masks_are_white_where_true(tmp_path):
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    path = write_mask_png(tmp_path / "m.png", mask)
    np.testing.assert_array_equal(read_mask_png(path), mask)
