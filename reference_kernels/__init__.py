"""Reference kernels (Triton and torch) and the timing harness; measured data sets in ``data/``."""
