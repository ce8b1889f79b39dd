"""Lightning callbacks and plugins of our own (the rest come from Lightning)."""

from infocam.callbacks.checkpoint_io import AtomicCheckpointIO
from infocam.callbacks.finite_loss import FiniteLossGuard

__all__ = ["AtomicCheckpointIO", "FiniteLossGuard"]
