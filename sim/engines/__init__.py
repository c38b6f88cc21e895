"""The engines: one op on one device kind, and the roofline for many configs at once."""
