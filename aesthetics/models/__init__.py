"""Model builders. Each module registers its builder on import."""

from aesthetics.models import dual_path, nima  # noqa: F401
from aesthetics.models.registry import MODEL_BUILDERS, build_model, register_model  # noqa: F401
