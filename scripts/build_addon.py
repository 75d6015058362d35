#!/usr/bin/env python
"""Build the Blender extension zip of the add-on in ``blender_addon/``.

    python scripts/build_addon.py [--out dist/mocap_blender-0.1.0.zip | --out FOLDER]

The zip holds the add-on's files at its root (``blender_manifest.toml``,
``__init__.py``, ...), as Blender 4.2+ installs extensions: Edit > Preferences >
Get Extensions > Install from Disk, or ``blender --command extension install-file``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "blender_addon"
CHOICES = ADDON / "choices.json"


def plugin_choices() -> dict:
    """The add-on's choices, read from the engine's registries: {"backends": [[name, label,
    summary], ...]} (the add-on runs in Blender's Python, without mocap to ask)."""
    sys.path.insert(0, str(ROOT))
    from mocap.estimators import BACKENDS

    return {"backends": [[name, b.label or name, b.summary] for name, b in BACKENDS.items()]}


def write_choices(path: Path = CHOICES) -> Path:
    """Write :func:`plugin_choices` to ``path`` (what the add-on in this tree offers)."""
    path.write_text(json.dumps(plugin_choices(), indent=1) + "\n", encoding="utf-8")
    return path


def addon_files() -> list[Path]:
    """The add-on's source files (no caches)."""
    return sorted(p for p in ADDON.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".toml", ".json"))


def zip_name() -> str:
    """The zip's usual file name, from the manifest: ``<id>_blender-<version>.zip``."""
    manifest = tomllib.loads((ADDON / "blender_manifest.toml").read_text(encoding="utf-8"))
    return f"{manifest['id']}_blender-{manifest['version']}.zip"


def build(out: Path) -> Path:
    """Write the extension zip to ``out`` atomically (an existing folder: inside it, under
    :func:`zip_name`); returns the zip's path."""
    if out.is_dir():
        out = out / zip_name()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in addon_files():
            z.write(path, path.relative_to(ADDON).as_posix())
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "dist" / zip_name(),
                    help="the zip, or an existing folder to put it in under its usual name")
    ap.add_argument("--choices", action="store_true",
                    help=f"only write {CHOICES.relative_to(ROOT)} from the engine's registries")
    args = ap.parse_args(argv)
    write_choices()
    if not args.choices:
        print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
