"""A user's model file: loading and checking it into a task, the bundled datasets and model builders.

Imports only `errors` and itself (torch and torchvision, no training code). The public names
that model files use are re-exported as `l2advisor.datasets` and `l2advisor.zoo`."""
