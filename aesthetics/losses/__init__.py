"""Training losses by name (`get_loss`); importing registers them for `.keras`
deserialisation. Score-distribution losses live in `distribution`; the names
and option schemas in `aesthetics.catalog.LOSSES`."""

from aesthetics.catalog import LOSSES, register_loss  # noqa: F401
from aesthetics.losses import correlation  # noqa: F401  (registers EMDPLCCLoss for loading)
from aesthetics.losses.distribution import get_loss  # noqa: F401
