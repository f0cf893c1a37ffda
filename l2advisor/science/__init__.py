"""The science core: learning curves in, fits, verdicts and advice out (pure numpy/scipy).

Imports nothing of l2advisor but `errors` and itself, and never torch: every function here is
testable in milliseconds against synthetic curves with known answers."""
