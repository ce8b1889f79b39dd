"""Console entry points' helpers (the top layer: may import anything below; nothing below imports them).

:mod:`infocam.cli` holds the training/eval/report console scripts and :mod:`infocam.run` one run's
lifecycle; these modules sit beside them.

- :mod:`~infocam.entry.preflight`: checks of the command line before Hydra starts (Hydra would
  report these failures with a traceback, or create directories first).
- :mod:`~infocam.entry.guard`: the wrapper around each Hydra job: one-line user errors, signals,
  the finished-cell line, the closing outputs line.
- :mod:`~infocam.entry.failed_cells`: a multirun's failed cells, recorded and summarised.
- :mod:`~infocam.entry.hydra_errors`: Hydra's composition errors as one line, with a did-you-mean.
- :mod:`~infocam.entry.eval_checkpoint`: an eval's settings reconciled with its checkpoint.
- :mod:`~infocam.entry.messages`: the one-line form of an error.
- :mod:`~infocam.entry.data_cli` (``infocam-data``) and :mod:`~infocam.entry.doctor`
  (``infocam-doctor``): console scripts of their own, fetching data sets and checking a setup.
"""
