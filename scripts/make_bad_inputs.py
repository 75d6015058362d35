#!/usr/bin/env python
"""Make the hostile-input corpus: broken, odd and malicious files for every entry point.

    python scripts/make_bad_inputs.py [--out tests/data/bad]

Each case is a file (or a few) and the `mocap` command that gets it, with what
must happen: ``error`` (exit code, the file named in one line, nothing written)
or ``ok`` (a valid but odd input: a correct result). ``tests/test_hostile.py``
makes the corpus in a temporary folder and runs every case; this script writes
it where people can look at it. Everything is generated (no downloads), small.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import pickle
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "turn_jump.mp4"


@dataclass
class Case:
    """One hostile input.

    Attributes:
        name: the kind of input.
        argv: the mocap command (``{out}``: the output path the test gives, ``{dir}``: the corpus folder).
        expect: "error" or "ok".
        code: the exit code expected for an error.
        says: a fragment the one-line error must contain (besides the file's name).
        names: the file the error must name ("" when the error is about an option).
    """

    name: str
    argv: list[str]
    expect: str = "error"
    code: int = 3
    says: str = ""
    names: str = ""
    out: str = "out.fbx"
    extra: dict = field(default_factory=dict)


def _video(path: Path, frames, fps=30, codec="mpeg4", pix_fmt="yuv420p", fmt="rgb24", times=None,
           container_format=None, options=None, rotation: int | None = None) -> Path:
    import av

    frames = list(frames)
    with av.open(str(path), "w", format=container_format) as c:
        s = c.add_stream(codec, rate=Fraction(fps).limit_denominator(100000), options=options or {})
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = pix_fmt
        if times is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            s.set_display_rotation(rotation)  # degrees counter-clockwise, in the display matrix
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format=fmt)
            if times is not None:
                frame.pts, frame.time_base = int(round(times[i] * 1000)), Fraction(1, 1000)
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def _sample_frames(n: int, size=None):
    """The sample clip's first ``n`` frames (RGB), optionally resized (w, h)."""
    import av

    out = []
    with av.open(str(SAMPLE)) as c:
        for frame in c.decode(video=0):
            if size:
                frame = frame.reformat(width=size[0], height=size[1])
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == n:
                break
    return out


class _Evil:
    def __reduce__(self):  # would run a shell command if unpickled normally
        import os

        return (os.system, ("echo pwned > /tmp/mocap_pwned",))


def make_corpus(folder: str | Path) -> list[Case]:
    """Write every hostile input into ``folder``; return the cases."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    sample = SAMPLE.read_bytes()

    def video_case(name, filename, expect="error", code=3, says="", whole=False, **kw):
        cut = [] if whole else ["--end", "1.5"]
        cases.append(Case(name, ["run", str(d / filename), "--out", "{out}", *cut, "--min-seconds", "0.5"],
                          expect, code, says, names=filename if expect == "error" else "", **kw))

    # --- videos -----------------------------------------------------------------------
    (d / "zero_bytes.mp4").write_bytes(b"")
    video_case("video: zero bytes", "zero_bytes.mp4", says="empty")
    (d / "truncated.mp4").write_bytes(sample[: len(sample) // 3])
    video_case("video: truncated", "truncated.mp4", whole=True, says="truncated")
    (d / "text.mp4").write_text("this is not a video\n")
    video_case("video: text file named .mp4", "text.mp4", says="not a readable video")
    png = io.BytesIO()
    from PIL import Image

    Image.fromarray(_sample_frames(1)[0]).save(png, format="PNG")
    (d / "image.mp4").write_bytes(png.getvalue())
    # FFmpeg reads a still image as a one-frame video: a clear "nobody" (too short), not a crash.
    video_case("video: a PNG image named .mp4", "image.mp4", code=4, says="no person")
    (d / "sample.avi").write_bytes(sample)  # an MP4 under the wrong extension: fine
    video_case("video: MP4 named .avi (valid)", "sample.avi", expect="ok")
    _audio_only(d / "audio_only.mp4")
    video_case("video: audio only", "audio_only.mp4", says="no video stream")
    _video(d / "one_frame.mp4", _sample_frames(1))
    video_case("video: one frame", "one_frame.mp4", code=4, says="no person")
    _video(d / "absurd_fps.mkv", _sample_frames(45), fps=100000, codec="ffv1", container_format="matroska")
    video_case("video: absurd frame rate (100000 fps)", "absurd_fps.mkv", code=3, says="frame rate")
    _video(d / "zero_fps.mp4", _sample_frames(45))
    _zero_timescale(d / "zero_fps.mp4")
    video_case("video: 0 fps metadata (MP4 track timescale 0)", "zero_fps.mp4", code=3, says="frame rate")
    frames = _sample_frames(45)
    _video(d / "gray.mkv", [f.mean(-1).astype(np.uint8) for f in frames], codec="ffv1", pix_fmt="gray",
           fmt="gray", container_format="matroska")
    video_case("video: grayscale (valid)", "gray.mkv", expect="ok")
    _video(d / "deep16.mkv", [(f.mean(-1) * 257).astype(np.uint16) for f in frames], codec="ffv1",
           pix_fmt="gray16le", fmt="gray16le", container_format="matroska")
    video_case("video: 16-bit grayscale (valid)", "deep16.mkv", expect="ok")
    rgba = [np.dstack([f, np.full(f.shape[:2], 200, np.uint8)]) for f in frames]
    _video(d / "alpha.mov", rgba, codec="png", pix_fmt="rgba", fmt="rgba", container_format="mov")
    video_case("video: alpha channel (valid)", "alpha.mov", expect="ok")
    for degrees in (90, 270):  # stored sideways with a display rotation, as phones do
        turned = [np.ascontiguousarray(np.rot90(f, k=-degrees // 90)) for f in frames]
        _video(d / f"rotated{degrees}.mp4", turned, rotation=degrees)
        cases.append(Case(f"video: {degrees} degree display rotation (valid, upright)",
                          ["run", str(d / f"rotated{degrees}.mp4"), "--out", "{out}", "--min-seconds", "0.5"],
                          "ok", out="out.npz", extra={"upright": True}))
    times = np.cumsum(np.r_[0, np.random.default_rng(0).uniform(0.02, 0.05, 44)])
    _video(d / "vfr.mkv", frames, times=times, container_format="matroska")
    video_case("video: variable frame rate (valid)", "vfr.mkv", expect="ok")
    _video(d / "interlaced.mkv", frames, codec="mpeg2video", container_format="matroska",
           options={"flags": "+ilme+ildct", "top": "1"})
    video_case("video: interlaced MPEG-2 (valid)", "interlaced.mkv", expect="ok")
    _video(d / "huge_8k.mp4", [np.full((4320, 7680, 3), 90, np.uint8)])
    video_case("video: 8K frame with nobody", "huge_8k.mp4", code=4, says="no person")
    _video(d / "long_tiny.mkv", [np.full((32, 32, 3), (i * 7) % 255, np.uint8) for i in range(1800)], fps=1,
           container_format="matroska")
    cases.append(Case("video: 30 minutes long (1 fps, nobody)", ["run", str(d / "long_tiny.mkv"), "--out", "{out}"],
                      code=4, says="no person", names="long_tiny.mkv"))

    # --- motion files (mocap export) -----------------------------------------------------
    good = dict(poses=np.zeros((5, 72)), trans=np.zeros((5, 3)), mocap_framerate=np.array(30.0),
                betas=np.zeros(10), gender=np.array("neutral"))

    def motion_case(name, filename, arrays, says="", raw: bytes | None = None):
        path = d / filename
        if raw is not None:
            path.write_bytes(raw)
        else:
            with open(path, "wb") as f:
                np.savez(f, **arrays)
        cases.append(Case(name, ["export", str(path), "--out", "{out}"], "error", 3, says, names=filename))

    motion_case("motion: missing keys", "no_trans.npz", {k: v for k, v in good.items() if k != "trans"}, "trans")
    motion_case("motion: wrong shapes", "bad_shape.npz", {**good, "poses": np.zeros((5, 7))}, "poses")
    motion_case("motion: NaN", "nan.npz", {**good, "poses": np.full((5, 72), np.nan)}, "NaN")
    motion_case("motion: Inf", "inf.npz", {**good, "trans": np.full((5, 3), np.inf)}, "Inf")
    motion_case("motion: object array (pickled)", "object.npz",
                {**good, "poses": np.array([_Evil()] * 3, dtype=object)}, "")
    motion_case("motion: not a zip", "garbage.npz", {}, "not a readable motion", raw=b"PK\x03\x04garbage")
    # A bomb's opening: poses declaring 3.8 GiB, then 1 MiB of zeros; refused on its header, before np.load
    # allocates the lot.
    motion_case("motion: poses declaring 3.8 GiB", "huge_declared.npz", {}, "declares shape (7000000, 72)",
                raw=_declaring_npz((7_000_000, 72)))

    # --- SMPL .pkl and checkpoints ------------------------------------------------------------
    (d / "evil_smpl.pkl").write_bytes(pickle.dumps({"v_template": _Evil()}, protocol=2))
    cases.append(Case("SMPL .pkl: malicious __reduce__", ["models", "import", str(d / "evil_smpl.pkl")],
                      "error", 3, "refused", names="evil_smpl.pkl"))
    (d / "truncated_smpl.pkl").write_bytes(pickle.dumps({"v_template": np.zeros((6890, 3))}, protocol=2)[:500])
    cases.append(Case("SMPL .pkl: truncated", ["models", "import", str(d / "truncated_smpl.pkl")],
                      "error", 3, "", names="truncated_smpl.pkl"))
    (d / "wrong_smpl.pkl").write_bytes(pickle.dumps({k: np.zeros((3, 3)) for k in (
        "v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}, protocol=2))
    cases.append(Case("SMPL .pkl: wrong shapes", ["models", "import", str(d / "wrong_smpl.pkl")],
                      "error", 3, "not an SMPL model", names="wrong_smpl.pkl"))
    try:  # a real torch.save archive whose pickle calls os.system when loaded unsafely
        import torch

        torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": _Evil()}, d / "evil.ckpt")
    except ImportError:
        (d / "evil.ckpt").write_bytes(pickle.dumps({"state_dict": _Evil()}, protocol=2))
    cases.append(Case("checkpoint: malicious pickle", ["run", str(SAMPLE), "--out", "{out}", "--backend", "hmr2",
                                                       "--checkpoint", str(d / "evil.ckpt"), "--device", "cpu",
                                                       "--end", "0.2"],
                      "error", 3, "", names="evil.ckpt"))
    try:  # the released key names, one tensor of the wrong shape
        import torch

        from mocap.estimators.hmr2.model import HMR2, HMR2Config

        weights = HMR2(HMR2Config.tiny()).state_dict()
        weights["smpl_head.decpose.weight"] = torch.zeros(5, 5)
        torch.save({"state_dict": weights}, d / "wrong_shapes.ckpt")
        cases.append(Case("checkpoint: wrong shapes", ["run", str(SAMPLE), "--out", "{out}", "--backend", "hmr2",
                                                       "--checkpoint", str(d / "wrong_shapes.ckpt"), "--device",
                                                       "cpu", "--end", "0.2"],
                          "error", 3, "wrong shape", names="wrong_shapes.ckpt"))
    except ImportError:
        pass
    (d / "truncated.ckpt").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    cases.append(Case("checkpoint: truncated", ["run", str(SAMPLE), "--out", "{out}", "--backend", "hmr2",
                                                "--checkpoint", str(d / "truncated.ckpt"), "--device", "cpu",
                                                "--end", "0.2"], "error", 3, "", names="truncated.ckpt"))

    # --- tarballs (mocap models import) -----------------------------------------------------
    def tarball(filename, add):
        with tarfile.open(d / filename, "w:gz") as t:
            add(t)
        return filename

    def member(t, name, data=b"x", **kw):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        for k, v in kw.items():
            setattr(info, k, v)
        t.addfile(info, io.BytesIO(data))

    ckpt_name = "logs/train/multiruns/hmr2/0/checkpoints/epoch=35-step=1000000.ckpt"
    name = tarball("traversal.tar.gz", lambda t: member(t, "../../../../tmp/mocap_escaped", b"gotcha"))
    cases.append(Case("tarball: path traversal", ["models", "import", str(d / name)], "error", 3, "", names=name))

    def links(t):
        info = tarfile.TarInfo(ckpt_name)
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(info)
    name = tarball("symlink.tar.gz", links)
    cases.append(Case("tarball: symlink out of the cache", ["models", "import", str(d / name)], "error", 3, "",
                      names=name))

    # A decompression bomb's opening: a member declaring 64 GB, followed by the first MB of its zeros
    # (the rest would compress to ~64 MB more); refused on its header, before any of it is read.
    info = tarfile.TarInfo(ckpt_name)
    info.size = 64 << 30
    with gzip.open(d / "huge_member.tar.gz", "wb") as f:
        f.write(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1 << 20))
    cases.append(Case("tarball: huge member (64 GB declared)", ["models", "import", str(d / "huge_member.tar.gz")],
                      "error", 3, "implausibly large", names="huge_member.tar.gz"))

    # --- manifests (mocap batch) ---------------------------------------------------------------
    (d / "traversal.csv").write_text("input,output\nsample.avi,../../etc/x\n")
    cases.append(Case("manifest: output leaves the folder", ["batch", str(d / "traversal.csv"), "--out-dir", "{out}"],
                      "error", 3, "leaves the output folder", names="traversal.csv", out="batch_out"))
    (d / "bad_rows.jsonl").write_text('{"input": "sample.avi"}\n[1, 2, 3]\n')
    cases.append(Case("manifest: bad rows", ["batch", str(d / "bad_rows.jsonl"), "--out-dir", "{out}"],
                      "error", 3, "take 2", names="bad_rows.jsonl", out="batch_out"))
    (d / "bad_yaml.yaml").write_text("takes: [unclosed\n")
    cases.append(Case("manifest: malformed YAML", ["batch", str(d / "bad_yaml.yaml"), "--out-dir", "{out}"],
                      "error", 3, "malformed", names="bad_yaml.yaml", out="batch_out"))

    # --- rig files (mocap export --rig-file) -------------------------------------------------
    motion = d / "good_motion.npz"
    with open(motion, "wb") as f:
        np.savez(f, **good)
    (d / "cycle_rig.json").write_text(json.dumps({"joints": [
        {"name": "a", "parent": "b", "offset": [0, 0, 0]}, {"name": "b", "parent": "a", "offset": [0, 1, 0]}]}))
    cases.append(Case("rig: parent cycle", ["export", str(motion), "--out", "{out}", "--rig-file",
                                            str(d / "cycle_rig.json")], "error", 3, "", names="cycle_rig.json"))
    (d / "no_legs_rig.json").write_text(json.dumps({"joints": [
        {"name": "Hips", "offset": [0, 1, 0]}, {"name": "Spine", "parent": "Hips", "offset": [0, 0.1, 0]}]}))
    cases.append(Case("rig: missing bones", ["export", str(motion), "--out", "{out}", "--rig-file",
                                             str(d / "no_legs_rig.json")], "error", 3, "", names="no_legs_rig.json"))
    (d / "broken_rig.fbx").write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + b"\xff" * 64)
    cases.append(Case("rig: broken FBX", ["export", str(motion), "--out", "{out}", "--rig-file",
                                          str(d / "broken_rig.fbx")], "error", 3, "", names="broken_rig.fbx"))

    # --- options out of range ----------------------------------------------------------------
    for name, args in (("option: --workers 999", ["--workers", "999"]), ("option: --fov 500", ["--fov", "500"]),
                       ("option: --end before --start", ["--start", "3", "--end", "1"]),
                       ("option: --batch-size 0", ["--batch-size", "0"])):
        cases.append(Case(name, ["run", str(SAMPLE), "--out", "{out}", *args], "error", 2, ""))
    return cases


def _declaring_npz(shape: tuple[int, ...]) -> bytes:
    """A ``.npz`` whose ``poses`` header declares ``shape`` float64 but that holds 1 MiB of zeros,
    with real ``trans`` (5, 3) and ``mocap_framerate``."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("poses.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": shape})
            member.write(bytes(1 << 20))
        for name, value in (("trans", np.zeros((5, 3))), ("mocap_framerate", np.array(30.0))):
            with z.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, value)
    return buf.getvalue()


def _zero_timescale(path: Path) -> None:
    """Set the MP4 video track's time scale (``mdhd`` box, units per second) to 0, as a damaged
    or hand-made file can have: the declared frame rate becomes meaningless."""
    data = bytearray(path.read_bytes())
    box = data.find(b"mdhd")
    version = data[box + 4]
    at = box + 4 + 4 + (16 if version == 1 else 8)  # type, version+flags, creation+modification times
    data[at : at + 4] = bytes(4)
    path.write_bytes(bytes(data))


def _audio_only(path: Path) -> None:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=44100)
        t = np.arange(1024 * 20) / 44100
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(samples[:, i * 1024:(i + 1) * 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)


# --- running the corpus ------------------------------------------------------------------

PREVIOUS = b"the previous take's output"


def run_case(case: Case, work: Path, code: str | None = None) -> tuple[subprocess.CompletedProcess, Path]:
    """Run one case's command in a folder of its own under ``work``, with an empty home (no
    model files, its own cache) and, for ``.fbx`` outputs, a previous output in place.
    ``code``: a folder holding another ``mocap`` package to run instead (e.g. an old checkout)."""
    folder = work / "".join(ch if ch.isalnum() else "_" for ch in case.name)
    folder.mkdir()
    out = folder / case.out
    if case.out.endswith(".fbx"):
        out.write_bytes(PREVIOUS)
    argv = [a.replace("{out}", str(out)) for a in case.argv]
    env = {"HOME": str(folder), "PATH": "/usr/bin:/bin", **({"PYTHONPATH": code} if code else {})}
    proc = subprocess.run([sys.executable, "-m", "mocap", *argv], capture_output=True, text=True, timeout=600,
                          cwd=folder, env=env)
    return proc, out


def stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


def last_line(proc: subprocess.CompletedProcess) -> str:
    lines = stderr_lines(proc)
    return lines[-1] if lines else ""


def problems_of(case: Case, proc: subprocess.CompletedProcess, out: Path) -> list[str]:
    """What is wrong with how a case ended (empty: it behaved). An error case must exit with its
    code, print exactly one ``mocap: error:`` line naming its file and saying its fragment, and
    leave no output (a previous one untouched, no ``.part`` files); an ``ok`` case a result."""
    lines = stderr_lines(proc)
    got = lines[-1] if lines else ""
    if case.expect == "ok":
        if proc.returncode != 0 or not out.exists() or out.read_bytes() == PREVIOUS:
            return [f"expected a result, got exit {proc.returncode}"]
        if case.extra.get("upright"):  # turned back by its display rotation: the person stands up
            from mocap.motion import load_npz

            (motion,) = load_npz(out).motions.values()
            pos, names = motion.joint_positions(), motion.skeleton.names
            rise = float(np.median(pos[:, names.index("head"), 1] - pos[:, names.index("pelvis"), 1]))
            if rise < 0.3:
                return [f"not upright (head {rise:.2f} m above the pelvis)"]
        return []
    why = []
    if proc.returncode != case.code:
        why.append(f"exit {proc.returncode} (expected {case.code})")
    if "Traceback" in proc.stderr or len(lines) != 1:
        why.append(f"{len(lines)} stderr lines")
    if not got.startswith("mocap: error:"):
        why.append("not a mocap error line")
    if case.names and case.names not in got:
        why.append(f"does not name {case.names}")
    if case.says and case.says not in got:
        why.append(f"does not say {case.says!r}")
    if case.out.endswith(".fbx"):
        if out.read_bytes() != PREVIOUS:
            why.append("previous output changed")
        leftovers = [p.name for p in out.parent.iterdir() if ".part" in p.name]
        if leftovers:
            why.append(f"left {leftovers}")
    elif out.exists():
        why.append(f"made {out.name}")
    return why


def run_corpus(cases: list[Case], work: Path, code: str | None = None, jobs: int = 2) -> list[tuple]:
    """Every case through the command line, ``jobs`` at a time: (case, proc, out, problems)."""
    from concurrent.futures import ThreadPoolExecutor

    work.mkdir(parents=True, exist_ok=True)

    def one(case):
        proc, out = run_case(case, work, code)
        return case, proc, out, problems_of(case, proc, out)

    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, cases))


def _report(cases: list[Case], work: Path, before: str | None) -> None:
    """A markdown table: each kind, what the code in ``before`` did (if given) and what this does."""
    runs = {"after": run_corpus(cases, work / "after")}
    if before:
        runs = {"before": run_corpus(cases, work / "before", code=before), **runs}

    def cell(proc, problems):
        said = last_line(proc).removeprefix("mocap: error: ")[:90].replace("|", "/")
        return f"exit {proc.returncode}: {said or '(nothing)'}" + (f" **[{'; '.join(problems)}]**" if problems else "")

    print("| kind | " + " | ".join(runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for i, case in enumerate(cases):
        print(f"| {case.name} | " + " | ".join(cell(r[i][1], r[i][3]) for r in runs.values()) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "bad"))
    ap.add_argument("--report", action="store_true", help="run every case and print a table of what happened")
    ap.add_argument("--before", metavar="DIR", help="with --report: also run the mocap package in DIR "
                                                    "(e.g. a `git worktree` of an older commit)")
    args = ap.parse_args(argv)
    cases = make_corpus(args.out)
    if args.report:
        import tempfile

        with tempfile.TemporaryDirectory() as work:
            _report(cases, Path(work), args.before)
        return 0
    for c in cases:
        print(f"{c.expect:<5} {c.name}")
    print(f"{len(cases)} cases in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
