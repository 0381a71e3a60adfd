"""Training: the loop, devices, seeding and checkpoints."""
