"""The engine: VGG19 features, the paper's losses and the optimisation loop, on one device.

Pure tensor work: it takes pictures (numpy arrays) and returns pictures; it never reads or writes a
file except the VGG weights.
"""
