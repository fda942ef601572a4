"""Helpers shared by the tests of stylevid.pipeline.io's video modules (not a test file)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from stylevid.pipeline.io.probe import probe_video
from stylevid.pipeline.io.video_read import DecodedFrame, read_frames
from stylevid.pipeline.io.video_write import VideoWriter

#: What media_factory.make_test_clip makes by default: 65x47, 36 frames at 30000/1001 fps.
FPS = Fraction(30000, 1001)
W, H, N = 65, 47, 36


def audio_info(path: Path) -> tuple[str, float, list[bytes]]:
    """Codec name, decoded duration (seconds) and the first packets' bytes of audio stream 0."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        codec = stream.codec_context.codec.canonical_name
        packets = [bytes(p) for p, _ in zip(container.demux(stream), range(5)) if p.size]
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    return codec, samples / stream.codec_context.sample_rate, packets


def copy_video(source: Path, target: Path, start=None, end=None, **writer_args) -> list[DecodedFrame]:
    """Read ``source`` (optionally a sub-range) and write it back out with its audio."""
    info = probe_video(source)
    frames = list(read_frames(source, start=start, end=end))
    t0 = frames[0].time
    t1 = frames[-1].time + float(1 / info.fps)
    with VideoWriter(
        target,
        fps=info.fps,
        width=info.width,
        height=info.height,
        time_base=info.time_base,
        audio_source=source,
        audio_start=t0,
        audio_end=t1,
        **writer_args,
    ) as writer:
        for frame in frames:
            writer.write(frame.image, frame.time - t0)
    return frames
