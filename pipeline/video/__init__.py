"""The parts of a video run: frame sources, flow-prepared frames, the rolling batch, the work folder
(resume), the output and the finalising renders. :mod:`stylevid.pipeline.video_job` strings them together."""
