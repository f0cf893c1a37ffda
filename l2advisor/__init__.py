"""l2advisor: which L2 / weight-decay coefficient to train with, measured on your own model."""

__version__ = "0.1.0"
