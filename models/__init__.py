"""The multi-scale generator and discriminator, and how their configuration is kept."""
from utils import compat  # noqa: F401  (before chainer)
from models.config import model_config  # noqa: F401
from models.discriminator import Discriminator  # noqa: F401
from models.generator import Generator  # noqa: F401
