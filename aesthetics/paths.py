"""Output paths checked before any work (TF-free)."""

from __future__ import annotations

from pathlib import Path

from aesthetics.errors import OutputError


def probe_writable(path, what: str, error=OutputError) -> Path:
    """Creates `path`'s folder and checks a file can be written beside it
    (a temporary probe, removed); raises `error` naming `what` otherwise."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f".{path.name}.probe")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise error(f"{what} {path}: cannot write there ({e.strerror or e})") from None
    return path
