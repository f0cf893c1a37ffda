"""The run directory: the results store (append-only JSON lines), its lock, and the probe
curves read back from it.

May import `science` (curves) and `errors`; never training, probing, tuning, reporting or cli."""
