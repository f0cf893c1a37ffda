"""AutoL2 where people train: callbacks for Lightning (`l2advisor[lightning]`) and the Hugging
Face Trainer (`l2advisor[hf]`). Each module imports its framework; this package imports none."""
