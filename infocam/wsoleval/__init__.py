"""wsolevaluation's protocol (Choe et al., CVPR 2020), exact and batched, in one place:

* :mod:`.protocol` - score-map preparation, thresholds, boxes and their pixel-count IoU (wrapper);
* :mod:`._component_tree` - the compiled kernel (contours of all levels in a few passes);
* :mod:`.metrics` - torchmetrics MaxBoxAcc/MaxBoxAccV2 and PxAP on top of it;
* :mod:`.scoring` - the step a WSOL task runs at test time;
* :mod:`.saved_maps` - ``infocam-eval-maps``: saved ``.npy`` maps in their layout -> metrics.json.
"""
