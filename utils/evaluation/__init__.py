"""Evaluation: recursive prediction on full frames, frame metrics, pictures."""
