"""Exact per-timestep gradient measurements: probes, profiles, summaries and their file."""

from seqnet.gradients.probe import batch_fingerprint, measure_profile
from seqnet.gradients.profiles import GradientProfile, log10_floor
from seqnet.gradients.store import GRADIENTS_FILE, GradientStore, load_gradients

__all__ = [
    "GRADIENTS_FILE",
    "GradientProfile",
    "GradientStore",
    "batch_fingerprint",
    "load_gradients",
    "log10_floor",
    "measure_profile",
]
