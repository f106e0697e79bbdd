"""Small synthetic photos for tests that need real decodable files: smooth
gradients plus noise (no two alike, every degradation visible on them)."""

import numpy as np


def gradient_photo(h: int, w: int, seed: int) -> np.ndarray:
    """uint8 (h, w, 3): a colour gradient with Gaussian noise (std 20)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w, y / h, (x + y) / (h + w)], -1) * 200
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
