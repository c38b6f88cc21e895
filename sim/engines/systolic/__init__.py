"""The systolic-array engine: SCALE-Sim's fold-by-fold accounting, closed form per fold."""
