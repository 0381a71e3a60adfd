"""The small commands: seqnet-compare (runs side by side) and seqnet-grads (one checkpoint)."""
