"""Image files out: 16-bit results (--bit-depth 16) keep the optimised image's precision."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from stylevid.pipeline.errors import StylevidError
from stylevid.pipeline.io.images import load_image, save_image, to_picture, to_picture16


@pytest.mark.parametrize("name", ["result.png", "result.tif"])
def test_a_16_bit_image_round_trips(tmp_path, name):
    # a smooth float image: 8 bits would band it into at most 256 levels per channel
    ramp = torch.linspace(0, 1, 320)
    channels = [ramp, ramp.flip(0), 0.5 + 0.3 * torch.sin(ramp * 9)]
    image = torch.stack([c.expand(40, 320) for c in channels]).unsqueeze(0).contiguous()
    path = save_image(tmp_path / name, to_picture16(image))
    read = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert read.dtype == np.uint16 and read.shape == (40, 320, 3)
    rgb = torch.from_numpy(read[:, :, ::-1].astype(np.float32) / 65535).permute(2, 0, 1)
    assert (rgb - image[0]).abs().max() <= 0.5 / 65535 + 1e-7  # rounding only
    assert len(np.unique(read[:, :, 2])) > 256  # genuinely more than 8 bits (channel 0, red, is BGR's last)
    assert np.abs(load_image(path).astype(int) - to_picture(image).astype(int)).max() <= 1  # readable as 8-bit too


def test_16_bit_images_need_png_or_tiff(tmp_path):
    with pytest.raises(StylevidError, match="png or .tif"):
        save_image(tmp_path / "result.jpg", np.zeros((4, 4, 3), dtype=np.uint16))
