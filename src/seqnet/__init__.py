"""seqnet: a research framework for recurrent networks and their vanishing/exploding gradients."""

__version__ = "0.1.0"
