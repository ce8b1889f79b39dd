"""MI estimators that train nothing (kNN), beside the trained bounds of :mod:`infocam.losses`.

``loss=knn`` on the command line and ``estimate_mi(..., estimator="knn")`` pick an entry of
:data:`MI_ESTIMATORS`; :mod:`.ceiling` holds the check every estimate (trained or not) goes through.
Importing this package registers every entry.
"""

from infocam.mi_estimators import knn  # noqa: F401  (the import registers the entry)
from infocam.mi_estimators.base import MI_ESTIMATORS, TrainingFreeEstimator
from infocam.mi_estimators.ceiling import MIAboveCeilingWarning, label_entropy, warn_if_above_ceiling
from infocam.mi_estimators.knn import KNNEstimate, knn_mutual_information

__all__ = ["KNNEstimate", "MIAboveCeilingWarning", "MI_ESTIMATORS", "TrainingFreeEstimator", "knn_mutual_information",
           "label_entropy", "warn_if_above_ceiling"]
