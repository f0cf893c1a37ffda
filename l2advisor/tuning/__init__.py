"""The Optuna baseline (studies, storage, dead-trial recovery) and `compare`, which sets the
advisor against it on equal footing.

May import probing and every layer below it; never reporting or cli."""
