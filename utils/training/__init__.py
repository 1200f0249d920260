"""Training: the update step, its losses and optimizers, and trainer extensions."""
