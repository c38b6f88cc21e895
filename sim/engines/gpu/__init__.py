"""The GPU engine: tiled GEMMs and attention kernels timed per CTA wave."""
