"""Offline stand-ins written in the official on-disk formats (scikit-learn's bundled 8x8 digits as
MNIST IDX files, thin-stroke font digits as MNIST IDX files, digits on cluttered canvases as a
CUB-200-2011 layout). They are easier than the real data; see docs/data.md (what each stand-in is and is not)."""
