"""The multi-scale generator and discriminator, their configuration and files."""
from models.config import ModelConfig, model_config  # noqa: F401
from models.discriminator import Discriminator  # noqa: F401
from models.generator import Generator  # noqa: F401
