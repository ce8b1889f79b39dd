"""Types of the Trainer's numeric arguments, checked before anything is built.

Lightning asserts on a bad type with no message (or, under ``debug=fdr``, ``fast_dev_run`` hides
a bad ``max_epochs`` until a real run).
"""

from __future__ import annotations

from omegaconf import DictConfig

from infocam.errors import ConfigError

#: Trainer arguments that must be whole numbers / numbers (Lightning asserts with no message)
_TRAINER_INTS = ("max_epochs", "min_epochs", "max_steps", "min_steps", "check_val_every_n_epoch",
                 "log_every_n_steps", "num_nodes", "accumulate_grad_batches", "num_sanity_val_steps")
_TRAINER_NUMBERS = ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches",
                    "val_check_interval", "overfit_batches", "gradient_clip_val")


def check_trainer_config(trainer_cfg: DictConfig) -> None:
    """Types of the Trainer's numeric arguments, checked before anything is built (also under
    ``debug=fdr``, where ``fast_dev_run`` would otherwise hide a bad ``max_epochs``)."""
    for key in (*_TRAINER_INTS, *_TRAINER_NUMBERS):
        value = trainer_cfg.get(key)
        if value is None:
            continue
        whole = isinstance(value, int) and not isinstance(value, bool)
        if key in _TRAINER_INTS and not whole:
            raise ConfigError(f"trainer.{key}={value!r} must be a whole number (e.g. trainer.{key}=10)")
        if key in _TRAINER_NUMBERS and not (whole or isinstance(value, float)):
            raise ConfigError(f"trainer.{key}={value!r} must be a number (a count of batches or a fraction)")
    fdr = trainer_cfg.get("fast_dev_run")
    if fdr is not None and not isinstance(fdr, (bool, int)):
        raise ConfigError(f"trainer.fast_dev_run={fdr!r} must be true/false or a number of batches")
