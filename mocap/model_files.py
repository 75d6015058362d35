"""Model files: where each is looked for, what is installed, where each is looked for, and importing them safely.

``mocap models`` reports; ``mocap models import FILE`` installs from
4D-Humans' ``hmr2_data.tar.gz`` (only the files we use, extracted safely), or
converts an SMPL ``.pkl`` to ``.npz`` (without running pickled code).
"""

from __future__ import annotations

import os
import shutil
import tarfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

MOCAP_CACHE = Path(os.environ.get("MOCAP_HOME", Path.home() / ".cache" / "mocap"))
SMPL_NPZ = MOCAP_CACHE / "smpl" / "SMPL_NEUTRAL.npz"
CACHE_4DHUMANS = Path.home() / ".cache" / "4DHumans"
RELEASED_CHECKPOINT = CACHE_4DHUMANS / "logs/train/multiruns/hmr2/0/checkpoints/epoch=35-step=1000000.ckpt"
SMPL_FILE = CACHE_4DHUMANS / "data/smpl/SMPL_NEUTRAL.pkl"
DOWNLOAD = "https://people.eecs.berkeley.edu/~jathushan/projects/4dhumans/hmr2_data.tar.gz"


def mediapipe_network(module: str, name: str) -> str:
    """The path of a network the mediapipe wheel ships (``modules/<module>/<name>``), found without
    importing mediapipe (which takes most of a second)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("mediapipe is not installed: scripts/install.sh installs it (mediapipe==0.10.21)")
    return os.path.join(list(spec.submodule_search_locations)[0], "modules", module, name)


_TFLITE_LOCK = threading.Lock()


def tflite_interpreter(path: str, threads: int = 1):
    """A LiteRT interpreter for the network at ``path``, its tensors allocated. Made one at a
    time: the parallel segments each make theirs at the same moment, and LiteRT's loading (the
    XNNPACK delegate's set-up) is not documented as safe to run concurrently."""
    from ai_edge_litert.interpreter import Interpreter

    with _TFLITE_LOCK:
        net = Interpreter(model_path=path, num_threads=threads)
        net.allocate_tensors()
    return net


class InterpreterLanes:
    """One LiteRT network on ``threads`` cores: a single call on one interpreter with all the
    threads, several calls (everyone in a frame, the tiles of a search) side by side on
    single-threaded interpreters, which uses the cores better than splitting each call. XNNPACK
    gives the same bytes on any number of threads, so results do not depend on the lane.

    Args:
        path: the ``.tflite`` file. threads: cores to use.
        wrap: ``wrap(interpreter) -> runner``: what is called with each item (``runner(item)``).
    """

    def __init__(self, path: str, threads: int, wrap):
        self.path, self.threads, self.wrap = path, max(1, threads), wrap
        self.main = wrap(tflite_interpreter(path, self.threads))
        self._lanes: list = []
        self._pool = None

    def map(self, items: list) -> list:
        """``runner(item)`` for each item, in order: whole rounds of one item a core side by side,
        what is left over on the interpreter with every thread."""
        lanes = self.threads
        side_by_side = len(items) - len(items) % lanes
        if side_by_side < 2:
            return [self.main(item) for item in items]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._lanes = [self.wrap(tflite_interpreter(self.path, 1)) for _ in range(lanes)]
            self._pool = ThreadPoolExecutor(lanes, thread_name_prefix="mocap-lanes")
        # Lane k takes items k, k + lanes, ...: each interpreter is used by one thread at a time.
        runs = [self._pool.submit(lambda k: [self._lanes[k](item) for item in items[k:side_by_side:lanes]], k)
                for k in range(lanes)]
        done = [run.result() for run in runs]
        return [done[i % lanes][i // lanes] for i in range(side_by_side)] + \
            [self.main(item) for item in items[side_by_side:]]

    def close(self) -> None:
        """Stop the lanes' threads (the main interpreter stays usable)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool, self._lanes = None, []


def checkpoint_candidates(explicit: str | os.PathLike | None = None) -> list[Path]:
    """Where the checkpoint is looked for, in order."""
    out = [Path(explicit)] if explicit else []
    if os.environ.get("MOCAP_HMR2_CHECKPOINT"):
        out.append(Path(os.environ["MOCAP_HMR2_CHECKPOINT"]))
    return out + [RELEASED_CHECKPOINT]


def find_checkpoint(explicit: str | os.PathLike | None = None) -> Path:
    """The checkpoint to use. Raises InputError saying where it was looked for and how to get it."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"{path}: checkpoint not found")
        return path
    for path in checkpoint_candidates():
        if path.is_file():
            return path
    raise InputError(f"no HMR 2.0 checkpoint: looked for {', '.join(map(str, checkpoint_candidates()))}; "
                     f"get hmr2_data.tar.gz ({DOWNLOAD}) and run `mocap models import hmr2_data.tar.gz`, "
                     f"or give --checkpoint")


def installed_body_model(smpl: str | os.PathLike | None = None):
    """The SMPL :class:`~mocap.body_model.BodyModel`: ``smpl`` if given, else the first installed
    one (:data:`SMPL_NPZ`, 4D-Humans' :data:`SMPL_FILE`), else None."""
    from .body_model import load_body_model

    if smpl:
        return load_body_model(smpl)
    found = next((p for p in (SMPL_NPZ, SMPL_FILE) if p.is_file()), None)
    return load_body_model(found) if found else None


# Members of hmr2_data.tar.gz we use, relative to ~/.cache/4DHumans (where 4D-Humans unpacks it).
HMR2_MEMBERS = (
    "logs/train/multiruns/hmr2/0/checkpoints/epoch=35-step=1000000.ckpt",
    "logs/train/multiruns/hmr2/0/model_config.yaml",
    "data/smpl_mean_params.npz",
    "data/smpl/SMPL_NEUTRAL.pkl",
)
# What a damaged or cut archive raises while being read (a gzip stream cut short: EOFError,
# corrupt deflate data: zlib.error, a bad LZMA/bz2 stream: their own errors, all OSError or these).
_DAMAGED = (tarfile.TarError, OSError, EOFError, zlib.error)
MAX_MEMBER_BYTES = 16 << 30  # the checkpoint is ~2.5 GB; anything near this is not ours
MAX_MEMBERS = 100_000  # 4D-Humans' bundle has a few dozen files


@dataclass
class ModelFile:
    name: str
    used_by: str
    candidates: list[Path]
    get: str

    @property
    def found(self) -> Path | None:
        return next((p for p in self.candidates if p.is_file()), None)


def model_files(checkpoint: str | None = None, smpl: str | None = None) -> list[ModelFile]:
    """Every model file mocap can use, with the places it is looked for (in order)."""
    smpl_places = ([Path(smpl)] if smpl else []) + [SMPL_NPZ, SMPL_FILE]
    return [
        ModelFile("HMR 2.0 checkpoint", "--backend hmr2", checkpoint_candidates(checkpoint),
                  f"download hmr2_data.tar.gz ({DOWNLOAD}), then `mocap models import hmr2_data.tar.gz`"),
        ModelFile("SMPL body model (neutral)", "shaped skeletons (optional; the hmr2 checkpoint carries one)",
                  smpl_places, "register at https://smpl.is.tue.mpg.de, download SMPL for Python, then "
                               "`mocap models import basicModel_neutral_lbs_10_207_0_v1.0.0.pkl`"),
    ]


def report(checkpoint: str | None = None, smpl: str | None = None) -> str:
    """The text `mocap models` prints."""
    lines = ["mediapipe: built in (MediaPipe Pose models ship inside the mediapipe wheel)",
             "hog detector: built in (OpenCV)"]
    for f in model_files(checkpoint, smpl):
        found = f.found
        lines.append(f"{f.name} ({f.used_by}): " + (f"found at {found}" if found else "MISSING"))
        lines += [f"    looked for: {p}" for p in f.candidates]
        if not found:
            lines.append(f"    to get it: {f.get}")
    return "\n".join(lines)


def import_file(path: str | Path, dest: str | Path | None = None) -> list[Path]:
    """Install a model file: 4D-Humans' ``hmr2_data.tar.gz`` or an SMPL ``.pkl``.

    Returns:
        the paths written.
    Raises:
        InputError: unreadable file, unsafe archive member, nothing usable inside.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: not found")
    if path.name.lower().endswith(".pkl"):
        from .body_model import convert_smpl_pkl

        return [convert_smpl_pkl(path, Path(dest) / SMPL_NPZ.name if dest else SMPL_NPZ)]
    return extract_hmr2_data(path, Path(dest) if dest else CACHE_4DHUMANS)


def extract_hmr2_data(tarball: Path, dest: Path) -> list[Path]:
    """Extract the members of :data:`HMR2_MEMBERS` that the archive has, and nothing else.

    Each must be a regular file of sane size (links, devices and oversized members are
    refused: nothing is written then). Files land in a temporary folder under ``dest``
    first and are renamed into place once all are complete.
    """
    try:
        archive = tarfile.open(tarball, "r:*")
    except _DAMAGED as exc:
        raise InputError(f"{tarball}: not a readable tar archive ({exc})") from None
    with archive:
        members = {}
        try:
            # Member by member: a member declaring an absurd size (a decompression bomb) is refused
            # on its header, before the archive is read through to the next one.
            for m in archive:
                if m.size > MAX_MEMBER_BYTES:
                    raise InputError(f"{tarball}: refused, {m.name!r} is implausibly large ({m.size} bytes)")
                if len(members) >= MAX_MEMBERS:
                    raise InputError(f"{tarball}: refused, more than {MAX_MEMBERS} members")
                members[_normal(m.name)] = m
        except _DAMAGED as exc:
            raise InputError(f"{tarball}: damaged tar archive ({exc})") from None
        wanted = [(name, members[name]) for name in HMR2_MEMBERS if name in members]
        if not any(name.endswith(".ckpt") for name, _ in wanted):
            raise InputError(f"{tarball}: no HMR 2.0 checkpoint inside (expected {HMR2_MEMBERS[0]})")
        for name, m in wanted:
            if not m.isfile():
                raise InputError(f"{tarball}: refused, {name} is a link or special file, not a regular file")
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(dest) / f".import-{os.getpid()}"
        written = []
        try:
            for name, m in wanted:
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(m)
                if source is None:
                    raise InputError(f"{tarball}: cannot read {name}")
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                if target.stat().st_size != m.size:
                    raise InputError(f"{tarball}: {name} is truncated")
            for name, _ in wanted:
                final = Path(dest) / name
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name, final)
                written.append(final)
        except _DAMAGED as exc:
            raise InputError(f"{tarball}: damaged tar archive ({exc})") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return written


def _normal(name: str) -> str:
    """A member name as a plain relative path ('./a/b' -> 'a/b'); unsafe names never match ours."""
    while name.startswith("./"):
        name = name[2:]
    return name
