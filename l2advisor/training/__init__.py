"""Training: the one loop (SGD or AdamW, weight decay per step), batches, stacked replicas,
learning-rate schedules, parameter groups and the AutoL2 weight-decay scheduler.

May import `modelfile` (the task it trains) and `errors`; never probing, tuning, reporting or cli."""
