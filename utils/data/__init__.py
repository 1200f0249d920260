"""Frames to clips to batches: reading videos, cutting clips, storing and serving them."""
