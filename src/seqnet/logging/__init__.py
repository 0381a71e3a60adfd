"""Logging: TensorBoard writers, hyperparameters, progress display.

(Inside the package, ``import logging`` still means the standard library: imports are absolute.)
"""
