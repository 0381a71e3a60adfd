"""Whole-sequence kernels: a cell family's every timestep, forward and a written-out backward, in
one autograd node (``Cell.sequence``)."""
