"""Scale-out: one video on many devices and machines, through Ray (``pip install 'stylevid[ray]'``).

:mod:`.plan` cuts the clip into shots and segments (torch-free), :mod:`.handoff` is the seam
maths inside a shot, :mod:`.worker` the engine each Ray actor holds, :mod:`.cluster` starts or
joins the Ray cluster and its actors, and :mod:`.runner` is the driver: it alone decodes, writes
the work folder and encodes, reusing the in-process runner's work folder, output and finalise.
"""
