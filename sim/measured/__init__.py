"""Measured against simulated: compare, calibrate, and the HTML report."""
