"""Probing: the probe plan (which lams, how long, when to stop) and running it, one by one,
stacked, or in parallel jobs.

May import training, modelfile, runs, science and errors; never tuning, reporting or cli."""
