"""The training layer on Lightning: config -> Trainer + callbacks, EMA, exact resume, checkpoints."""
