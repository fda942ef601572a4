"""Motion between frames: optical flow, warping, occlusion masks and the warping error (tensor maths, no I/O).

Conventions shared by every module here:

* Torch images are ``(B, C, H, W)`` float, RGB in ``[0, 1]``; numpy frames are ``uint8`` ``(H, W, 3)`` RGB.
* A flow is a tensor ``(B, 2, H, W)`` float in pixels (numpy: ``(H, W, 2)`` float32); channel 0 is the
  horizontal (x) displacement, channel 1 the vertical (y) one. Pixel centres sit at integer coordinates
  ``x = 0 .. W-1``, ``y = 0 .. H-1``.
* ``flow_bw`` of frame t (written ŵ): frame t-1 shows the point of pixel ``x`` of frame t at ``x + ŵ(x)``,
  so ``warp(stylised_{t-1}, flow_bw)`` aligns frame t-1's stylisation to frame t.
* ``flow_fw`` of frame t-1 (written w): pixel ``x`` of frame t-1 is at ``x + w(x)`` in frame t.
* Masks are ``(B, 1, H, W)`` float in ``{0, 1}``; 1 = reliable.
* "Flow from A to B" is ``F`` with ``A(x) ≈ B(x + F(x))``: it lives on A's grid and points into B.
  So ``flow_bw`` of frame t is the flow from t to t-1, ``flow_fw`` of frame t-1 the flow from t-1 to t.

Given flow (``--flow-dir``, :mod:`stylevid.pipeline.io.flow_folder`), frames numbered from 1:
``backward_J_I.flo`` is ``flow_bw`` of frame J (towards I = J-1), what the warped init, the
temporal loss and the warping error use directly; ``forward_I_J.flo`` and MPI Sintel's
``frame_NNNN.flo`` (frame N → N+1) are ``flow_fw`` of the earlier frame. A run needs the backward
files; ``stylevid eval`` measures a pair that has only forward flow on the earlier frame's grid,
``warp(V_t, flow_fw)`` against ``V_{t-1}`` (:class:`~.warping_error.GivenFlowMeter`). Reliability of
given flow: :mod:`.given_flow`. Clips with exactly known flow and occlusion: :mod:`.synthetic`.
"""
