"""Which manifest a reading command (``report``, ``runs``) reads, from what the user gave."""

from __future__ import annotations

from pathlib import Path

from preflight.manifest.store import default_path, find_manifest

__all__ = ["SOURCE_HELP", "manifest_of"]

SOURCE_HELP = (
    "A corpus folder, a run config (.yaml) or a manifest file \\[default: the current folder]."
)


def manifest_of(
    source: Path | None, *, manifest: Path | None = None, config: Path | None = None
) -> Path:
    """The manifest file of a corpus folder, a run config or a manifest file (``--manifest``
    and ``--config`` win over ``source``).

    Raises:
        ManifestError: none found where the source says (``store.find_manifest``).
        ConfigError: a run config that does not load.
    """
    if manifest is not None:
        return find_manifest(manifest)
    if config is None and source is not None and source.suffix in (".yaml", ".yml"):
        config = source
    if config is not None:
        from preflight.run_config import load_run_config  # the model registry imports torch

        data = load_run_config(config).data
        return find_manifest(data.manifest or default_path(data.source).parent.parent)
    return find_manifest(source)
