"""wsolevaluation's protocol (Choe et al., CVPR 2020), exact and batched, in one place:

* :mod:`.protocol` - score-map preparation, thresholds, boxes and their pixel-count IoU (wrapper);
* :mod:`._component_tree` - the compiled kernel (contours of all levels in a few passes);
* :mod:`.metrics` - torchmetrics MaxBoxAcc/MaxBoxAccV2 and PxAP on top of it;
* :mod:`.evaluator` - the step a WSOL task runs at test time (their evaluator's accumulate/compute);
* :mod:`.saved_maps` - ``infocam-eval-maps``: saved ``.npy`` maps in their layout -> metrics.json.
"""
