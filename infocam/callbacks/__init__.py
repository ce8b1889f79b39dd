"""Lightning callbacks and plugins of our own (the rest come from Lightning)."""

from infocam.callbacks.checkpoint_io import AtomicCheckpointIO
from infocam.callbacks.finite_loss import FiniteLossGuard
from infocam.callbacks.rng_state import RandomStateCheckpoint

__all__ = ["AtomicCheckpointIO", "FiniteLossGuard", "RandomStateCheckpoint"]
