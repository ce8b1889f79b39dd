"""infocam: a softmax classifier is a mutual-information estimator.

Registries (``infocam.registry``) hold the science plug-ins; ``infocam.run`` runs a composed
Hydra config; ``infocam-train`` / ``infocam-eval`` / ``infocam-report`` are the CLIs.
"""

__version__ = "0.1.0"
