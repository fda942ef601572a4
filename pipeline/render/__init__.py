"""Pictures made from data already produced: animations, loss plots and image grids.

Inputs are H×W×3 uint8 RGB arrays and plain dicts/lists; nothing here re-runs the optimisation.
Every file is written atomically (a temp file beside it, then a rename).
"""
