"""Helpers shared by the scripts; importing the package applies the Chainer shims."""
from utils import compat  # noqa: F401  (must run before anything imports chainer)
