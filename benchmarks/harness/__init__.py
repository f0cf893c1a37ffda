"""The measuring harness of the suite: pure scoring and accounting (scoring.py, accounting.py),
the simulated tuners of the head-to-head (methods.py), and the user-path subprocess calls
(cli_runs.py). The scripts `benchmarks/advice_suite.py` and `benchmarks/headtohead.py` are thin."""
