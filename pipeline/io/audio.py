"""Carrying a source's audio into an encoded video: packet copy or re-encode, trimmed to a window.

Times use the clock of :attr:`.video_read.DecodedFrame.time` (seconds since the first video frame).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..errors import StylevidError
from ._ffmpeg import open_input, real_video_streams

__all__ = ["AudioCarrier", "AudioTrack", "clock_origin"]

#: Audio codecs copied packet-for-packet into these output formats (others are re-encoded).
#: MP4 technically accepts more (PCM, Vorbis, MP2), but few players handle those in MP4.
_MP4_COPY = frozenset({"aac", "mp3", "ac3", "eac3", "alac", "flac", "opus"})
_COPYABLE_AUDIO: dict[str, frozenset[str] | None] = {
    "mp4": _MP4_COPY,
    "mov": _MP4_COPY | {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_f32le", "pcm_f32be"},
    "webm": frozenset({"opus", "vorbis"}),
    "matroska": None,  # anything the muxer accepts
}

#: Channel layouts the re-encoders are given, by channel count (others become stereo).
_ENCODER_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


class AudioTrack:
    """One source audio stream feeding one output stream, by packet copy or re-encode.

    Times are on the source clock of :attr:`DecodedFrame.time` (seconds since the first
    video frame, i.e. absolute timestamp minus ``origin``); output time is that minus
    ``start``. Packets / samples outside ``[start, end)`` are dropped.
    """

    def __init__(self, source: Any, output: Any, *, copy: bool, origin: float, start: float, end: float) -> None:
        self.source, self.output, self.copy = source, output, copy
        self.origin, self.start, self.end = origin, start, end
        self.done = False
        self._flushed = False
        self._next_pts: int | None = None  # re-encode: output pts of the next sample

    def packet_time(self, packet: av.Packet) -> float | None:
        """Source-clock time (seconds) of a demuxed packet, None for flush packets."""
        ts = packet.pts if packet.pts is not None else packet.dts
        return None if ts is None else float(ts * self.source.time_base) - self.origin

    def handle(self, packet: av.Packet, container: av.container.OutputContainer) -> None:
        """Mux one demuxed packet: copied, or decoded, trimmed and re-encoded."""
        if not packet.size:
            return  # end-of-stream marker; flush() drains the decoder
        if self.copy:
            self._copy(packet, container)
            return
        try:
            frames = self.source.decode(packet)
        except av.FFmpegError:
            return  # a damaged audio packet: skip it rather than lose the whole video
        for frame in frames:
            self._encode(frame, container)

    def _copy(self, packet: av.Packet, container: av.container.OutputContainer) -> None:
        """Copy whole packets that overlap [start, end), shifted so ``start`` becomes 0.

        A packet straddling ``start`` gets a negative timestamp; MP4 muxes that as an
        edit list that skips the part before 0 (like encoder priming), Matroska shifts
        all streams alike, so sync is kept either way.
        """
        t0 = self.packet_time(packet)
        if t0 is None or t0 >= self.end:
            return
        t1 = t0 + float((packet.duration or 0) * self.source.time_base)
        if t1 <= self.start - 1e-6 or (t1 == t0 and t0 < self.start):
            return
        shift = round((self.origin + self.start) / self.source.time_base)
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = self.output
        container.mux(packet)

    def _encode(self, frame: av.AudioFrame, container: av.container.OutputContainer) -> None:
        piece = self._trim(frame)
        if piece is None:
            return
        trimmed, t0 = piece
        rate = trimmed.sample_rate
        if self._next_pts is None:
            self._next_pts = max(0, round((t0 - self.start) * rate))
        trimmed.time_base = Fraction(1, rate)
        trimmed.pts = self._next_pts
        self._next_pts += trimmed.samples
        container.mux(self.output.encode(trimmed))

    def _trim(self, frame: av.AudioFrame) -> tuple[av.AudioFrame, float] | None:
        """Cut ``frame`` to [start, end) sample-accurately; returns the piece and its time."""
        rate, n = frame.sample_rate, frame.samples
        if frame.pts is None or frame.time_base is None:
            t0 = self.start + (self._next_pts or 0) / rate
        else:
            t0 = float(frame.pts * frame.time_base) - self.origin
        first = max(0, round((self.start - t0) * rate))
        last = n if math.isinf(self.end) else min(n, round((self.end - t0) * rate))
        if last <= first:
            return None
        if first == 0 and last == n:
            return frame, t0
        data: np.ndarray = frame.to_ndarray()
        if frame.format.is_planar:
            data = data[:, first:last]
        else:
            channels = frame.layout.nb_channels
            data = data[:, first * channels : last * channels]
        piece = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(data), format=frame.format.name, layout=frame.layout.name
        )
        piece.sample_rate = rate
        return piece, t0 + first / rate

    def flush(self, container: av.container.OutputContainer) -> None:
        """Drain decoder and encoder (re-encode only; once)."""
        if self.copy or self._flushed:
            return
        self._flushed = True
        for frame in self.source.decode(None):
            self._encode(frame, container)
        container.mux(self.output.encode(None))


def clock_origin(path: Path) -> float:
    """Absolute time (seconds) of the first video frame of ``path``: zero of DecodedFrame.time.

    For a file without video, the container's start time.
    """
    with open_input(path) as container:
        streams = real_video_streams(container)
        if streams:
            stream = streams[0]
            try:
                for frame in container.decode(stream):
                    if frame.pts is not None:
                        return float(frame.pts * stream.time_base)
            except av.FFmpegError:
                pass
            if stream.start_time is not None:
                return float(stream.start_time * stream.time_base)
        start = container.start_time
        return start / av.time_base if start else 0.0


class AudioCarrier:
    """Copies / re-encodes the audio of a source file into an output container, in step
    with the video so the two are interleaved.

    ``start``/``end`` use the source's :attr:`DecodedFrame.time` clock.
    """

    def __init__(self, source: Path, output: av.container.OutputContainer, start: float, end: float | None) -> None:
        if start < 0 or (end is not None and end <= start):
            raise StylevidError(f"audio range [{start}, {end}) is empty or negative")
        self.start = float(start)
        self.end = math.inf if end is None else float(end)
        self._output = output
        self._origin = clock_origin(source)
        self._input: av.container.InputContainer | None = open_input(source)
        self._packets: Iterator[av.Packet] | None = None
        self._pending: av.Packet | None = None
        try:
            self._tracks = {s.index: self._add_track(s, output) for s in self._input.streams.audio}
            if self._tracks:
                if self.start > 1.0:  # skip most of what lies before the window
                    target = self._origin + self.start - 1.0
                    self._input.seek(int(target * av.time_base), backward=True)
                self._packets = self._input.demux(*[t.source for t in self._tracks.values()])
        except BaseException:
            self.close()
            raise

    def _add_track(self, stream: Any, output: av.container.OutputContainer) -> AudioTrack:
        """Copy ``stream`` if the output format plays its codec well, else re-encode it."""
        times = dict(origin=self._origin, start=self.start, end=self.end)
        codec = stream.codec_context.codec.canonical_name
        copyable = _COPYABLE_AUDIO.get(output.format.name, frozenset())
        if copyable is None or codec in copyable:
            try:
                out = output.add_stream_from_template(stream)
                return AudioTrack(stream, out, copy=True, **times)
            except (ValueError, av.FFmpegError):
                pass  # the muxer refuses this codec: re-encode
        return AudioTrack(stream, self._add_encoder(stream, output), copy=False, **times)

    @staticmethod
    def _add_encoder(stream: Any, output: av.container.OutputContainer) -> Any:
        """An AAC (Opus for WebM) encoder stream with the source's rate and channel count."""
        supported = output.supported_codecs
        name = next((c for c in ("aac", "libopus", "opus") if c in supported), None)
        if name is None:
            raise StylevidError(
                f"{output.format.name} files cannot hold audio; write a .mp4 or .mkv file or drop the audio"
            )
        rate = stream.codec_context.sample_rate
        if rate not in (av.Codec(name, "w").audio_rates or (rate,)):
            rate = 48000
        options = {"strict": "experimental"} if name == "opus" else {}
        encoder = output.add_stream(name, rate=rate, options=options)
        encoder.layout = _ENCODER_LAYOUTS.get(stream.codec_context.layout.nb_channels, "stereo")
        encoder.codec_context.time_base = Fraction(1, rate)
        return encoder

    def _peek(self) -> av.Packet | None:
        """The next source packet (kept until consumed), or None at the end."""
        if self._pending is None and self._packets is not None:
            try:
                self._pending = next(self._packets)
            except StopIteration:
                self._packets = None
            except av.FFmpegError:
                self._packets = None  # damaged audio: keep what was carried so far
        return self._pending

    def pump(self, until: float) -> None:
        """Mux source audio that starts before ``until`` seconds of output time."""
        while (packet := self._peek()) is not None:
            track = self._tracks[packet.stream.index]
            t0 = track.packet_time(packet)
            if t0 is not None and packet.size and t0 - self.start >= until:
                return
            self._pending = None
            if t0 is not None and t0 >= track.end:
                track.done = True
                if all(t.done for t in self._tracks.values()):
                    self._packets = None  # every stream is past the end: stop reading
                continue
            track.handle(packet, self._output)

    def finish(self, video_end: float) -> None:
        """Mux the remaining audio (never past the video's end) and flush the encoders."""
        end = min(self.end, self.start + video_end)
        for track in self._tracks.values():
            track.end = end
        self.pump(until=math.inf)
        for track in self._tracks.values():
            track.flush(self._output)
        self.close()

    def close(self) -> None:
        """Close the source file (again is harmless)."""
        self._packets = None
        if self._input is not None:
            self._input.close()
            self._input = None
