"""The parts of a batch of photos: one photo's stylisation (the unit a runner farms out) and the
output pictures that carry their settings, so a rerun skips what is done.
:mod:`stylevid.pipeline.batch_job` loops over the photos."""
