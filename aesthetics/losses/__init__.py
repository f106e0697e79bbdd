"""Training losses by name (`get_loss`); importing registers them for `.keras`
deserialisation. Score-distribution losses live in `distribution`."""

from aesthetics.losses.distribution import LOSSES, get_loss, register_loss  # noqa: F401
