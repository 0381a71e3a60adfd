"""Exact per-timestep gradient measurements: probes, profiles, summaries and their file."""

from seqnet.gradients.probe import measure_profile
from seqnet.gradients.profile import GradientProfile, log10_floor
from seqnet.gradients.store import GradientStore, load_gradients

__all__ = ["GradientProfile", "GradientStore", "load_gradients", "log10_floor", "measure_profile"]
