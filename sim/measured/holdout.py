"""The share of measured rows that `calibrate` holds out of its fit, to measure how well the fitted
spec predicts. Its own module, free of pandas and numpy, so `codesign calibrate --help` shows the
default without importing the fit."""

#: Default share of rows held out of the fit to measure it.
DEFAULT_HOLDOUT = 0.3
