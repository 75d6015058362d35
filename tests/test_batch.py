"""`mocap batch`: manifests, idempotent and resumable runs, failures reported, local pool and Ray."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mocap.batch import Take, exclusive_batch, read_manifest, remove_partial_outputs, run_batch
from mocap.errors import EXIT_BATCH_FAILED, EXIT_OUTPUT, InputError, OutputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "turn_jump.mp4"
MOCAP = [sys.executable, "-m", "mocap"]
SHORT = {"end": "0.6", "min_seconds": "0.3"}  # every take cut to its first 18 frames


def _takes(folder: Path, good: int, broken: bool = False) -> Path:
    """A CSV manifest of ``good`` copies of the sample (BVH outputs, text: comparable byte for
    byte) and, with ``broken``, 5 bad takes: 2 corrupt videos, 2 missing, 1 with nobody in it."""
    from conftest import make_video, numbered_frames

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["input,output"]
    for i in range(good):
        shutil.copyfile(SAMPLE, folder / f"take{i:02d}.mp4")
        rows.append(f"take{i:02d}.mp4,{'sub/' if i % 5 == 0 else ''}take{i:02d}.bvh")
    if broken:
        for i in range(2):
            (folder / f"corrupt{i}.mp4").write_bytes(SAMPLE.read_bytes()[:3000 + 1000 * i])
            rows.append(f"corrupt{i}.mp4,corrupt{i}.bvh")
        rows += ["missing0.mp4,missing0.bvh", "missing1.mp4,missing1.bvh"]
        make_video(folder / "nobody.mp4", numbered_frames(12, 96, 128), fps=30)
        rows.append("nobody.mp4,nobody.bvh")
    manifest = folder / "takes.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _batch(manifest: Path, out: Path, *args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*MOCAP, "batch", str(manifest), "--out-dir", str(out), "--progress", "none",
                           *[f"--set={k}={v}" for k, v in SHORT.items()], *args], capture_output=True, text=True,
                          timeout=900, **kwargs)


def _events(out: Path) -> list[dict]:
    lines = (out / ".mocap-batch" / "state.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip().endswith("}")]


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and ".mocap-batch" not in p.parts}


def _inline_pool(calls: list):
    """A stand-in for the process pool that runs each take in this process, appending its
    ``mocap run`` arguments to ``calls`` and writing them as the output."""
    import mocap.batch as batch

    class Inline:
        def __init__(self, workers):
            pass

        def __enter__(self):
            return lambda call_list, keys: ((k, self.fake(*c)) for c, k in zip(call_list, keys))

        @staticmethod
        def fake(argv, name, out_dir):
            calls.append(argv)
            out = Path(argv[argv.index("--out") + 1])
            out.write_text(" ".join(argv))
            return batch.TakeResult(name, "done", outputs=[out.name])

        def __exit__(self, *exc):
            return False

    return Inline


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (all its threads' children), from /proc."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks after boot), or None once it is gone or a zombie
    (an orphan's zombie may never be reaped in a container)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else int(fields[19])


def _cmdline(pid: int) -> bytes:
    """The command line of ``pid`` (empty once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, the batch's state folder included."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _same_outputs(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    """The same files, byte for byte (the default backend runs BlazePose's networks directly: the
    same bytes every run, which MediaPipe's own graph did not give)."""
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []


# --- manifests -----------------------------------------------------------------------------


def test_manifest_formats_agree(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    csv_ = tmp_path / "m.csv"
    csv_.write_text("input,output,smoothing,--end\na.mp4,x/a.glb,strong,2\n")
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(json.dumps({"input": "a.mp4", "output": "x/a.glb", "smoothing": "strong", "end": 2}) + "\n")
    yaml_ = tmp_path / "m.yaml"
    yaml_.write_text("defaults: {smoothing: strong}\ntakes:\n  - {input: a.mp4, output: x/a.glb, end: 2}\n")
    takes = [read_manifest(p) for p in (csv_, jsonl, yaml_)]
    assert takes[0] == takes[1] == takes[2]
    (take,) = takes[0]
    assert take.output == "x/a.glb" and take.input == str(tmp_path / "a.mp4")
    assert dict(take.options) == {"smoothing": "strong", "end": "2"}
    (folder_take,) = read_manifest(tmp_path)  # a folder of videos: one take each, default output
    assert folder_take.output == "a.fbx"


@pytest.mark.parametrize("output, message", [
    ("../../etc/x", "leaves the output folder"),
    ("sub/../../x.fbx", "leaves the output folder"),
    ("/etc/x.fbx", "not absolute"),
    (".mocap-batch/state.jsonl", "state folder"),
])
def test_outputs_outside_the_folder_are_refused(tmp_path, output, message):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"input": "a.mp4", "output": output}) + "\n")
    with pytest.raises(InputError, match=message):
        read_manifest(manifest)
    proc = _batch(manifest, tmp_path / "out")
    assert proc.returncode == 3 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists() and not Path("/etc/x").exists()


@pytest.mark.parametrize("content, message", [
    ("input,output\n,a.fbx\n", "no input video"),
    ("input,output\na.mp4,a.fbx\nb.mp4,a.fbx\n", "also take 1's"),
    ("input,out\na.mp4,b.fbx\n", "set by the batch"),
])
def test_bad_manifest_rows_are_named(tmp_path, content, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(content)
    with pytest.raises(InputError, match=message):
        read_manifest(manifest)


def test_leftovers_of_a_killed_write_are_removed(tmp_path):
    (tmp_path / ".take01.abc123.part.bvh").write_text("half")
    (tmp_path / "take01.bvh").write_text("whole")
    (tmp_path / ".hidden").write_text("user's")
    removed = remove_partial_outputs(tmp_path)
    assert [p.name for p in removed] == [".take01.abc123.part.bvh"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "take01.bvh"]


# --- running --------------------------------------------------------------------------------


@pytest.mark.slow
def test_thirty_takes_with_five_broken(tmp_path):
    """25 good takes and 5 broken ones on 2 workers: every good take done, each broken one
    reported with its own one-line error, exit code 6, nothing partial on disk; run again,
    nothing is redone."""
    manifest = _takes(tmp_path / "shoot", 25, broken=True)
    out = tmp_path / "out"
    proc = _batch(manifest, out, "--workers", "2", "--retries", "0", "--report", str(tmp_path / "report.json"))
    assert proc.returncode == EXIT_BATCH_FAILED, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    status = {t["take"]: t for t in report["takes"]}
    assert report["done"] == 25 and report["failed"] == 5
    for name in ("corrupt0.bvh", "corrupt1.bvh"):
        assert status[name]["exit_code"] == 3 and "corrupt" in status[name]["error"]
    for name in ("missing0.bvh", "missing1.bvh"):
        assert status[name]["exit_code"] == 3 and "not found" in status[name]["error"]
    assert status["nobody.bvh"]["exit_code"] == 4 and "no person" in status["nobody.bvh"]["error"]
    files = _files(out)
    assert sorted(files) == sorted(t["take"] for t in report["takes"] if t["status"] == "done")
    assert all(status[n]["frames"] == 18 and status[n]["people"] == 1 for n in files)
    # The same clip everywhere: the same motion, byte for byte.
    common = max(set(files.values()), key=list(files.values()).count)
    _same_outputs(files, dict.fromkeys(files, common))
    assert not [p for p in out.rglob(".*.part*")]

    again = _batch(manifest, out, "--workers", "2", "--retries", "0")
    assert again.returncode == EXIT_BATCH_FAILED
    assert "25 of 30 takes done (25 already)" in again.stderr
    started = [e for e in _events(out) if e["event"] == "started"]
    assert sum(e["take"] == "take03.bvh" for e in started) == 1  # done once, never again
    assert sum(e["take"] == "nobody.bvh" for e in started) == 2  # failed: tried again


@pytest.mark.slow
def test_killed_batch_resumes_without_redoing_or_losing_takes(tmp_path):
    """SIGKILL the batch (and its workers) mid-way, run it again: it finishes the rest, takes
    done before the kill are not run again, and the outputs equal an uninterrupted run's."""
    manifest = _takes(tmp_path / "shoot", 10)
    out, clean = tmp_path / "out", tmp_path / "clean"
    proc = subprocess.Popen([*MOCAP, "batch", str(manifest), "--out-dir", str(out), "--progress", "none",
                             *[f"--set={k}={v}" for k, v in SHORT.items()], "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = out / ".mocap-batch" / "state.jsonl"
        if state.exists() and sum(e["event"] == "done" for e in _events(out)) >= 3:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the node is pre-empted: batch and workers gone at once
    proc.wait()
    done_before = {e["take"] for e in _events(out) if e["event"] == "done"}
    assert 3 <= len(done_before) < 10

    resumed = _batch(manifest, out, "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    started = {}
    for e in _events(out):
        if e["event"] == "started":
            started[e["take"]] = started.get(e["take"], 0) + 1
    assert all(started[t] == 1 for t in done_before)  # not redone
    assert len(started) == 10  # none lost
    assert not [p for p in out.rglob(".*.part*")]

    assert _batch(manifest, clean, "--workers", "2").returncode == 0
    _same_outputs(_files(out), _files(clean))


@pytest.mark.slow
def test_ray_executor_gives_the_same_outputs(tmp_path):
    """The same takes as Ray tasks on a local Ray cluster (2 CPUs) started here."""
    ray = pytest.importorskip("ray")
    manifest = _takes(tmp_path / "shoot", 4)
    takes = read_manifest(manifest, ".bvh")
    local = run_batch(takes, tmp_path / "local", SHORT, workers=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_batch(takes, tmp_path / "ray", SHORT, executor="ray")
    finally:
        ray.shutdown()
    assert [r.status for r in local.results] == [r.status for r in remote.results] == ["done"] * 4
    _same_outputs(_files(tmp_path / "local"), _files(tmp_path / "ray"))


def test_changed_take_runs_again(tmp_path, monkeypatch):
    """A take is skipped only at the same fingerprint: new options (or a new video) run it again."""
    import mocap.batch as batch

    calls = []
    monkeypatch.setattr(batch, "_pool_submitter", _inline_pool(calls))  # the pool, in this process, counting runs
    video = tmp_path / "a.mp4"
    video.write_bytes(b"take one")
    take = Take("a.bvh", str(video), "a.bvh")
    for expected_calls, defaults in ((1, {}), (1, {}), (2, {"smoothing": "strong"})):
        run_batch([take], tmp_path / "out", defaults)
        assert len(calls) == expected_calls
    video.write_bytes(b"take one, reshot")
    run_batch([take], tmp_path / "out", {"smoothing": "strong"})
    assert len(calls) == 3
    (tmp_path / "out" / "a.bvh").unlink()  # an output gone: not done any more
    run_batch([take], tmp_path / "out", {"smoothing": "strong"})
    assert len(calls) == 4


def test_workers_die_with_a_killed_batch(tmp_path):
    """SIGKILL the batch alone (not its process group): its pool workers die with it within
    seconds instead of idling on their memory until killed by hand, and the output folder's
    lock goes with the batch, so the next batch can start."""
    manifest = _takes(tmp_path / "shoot", 2)
    out = tmp_path / "out"
    proc = subprocess.Popen([*MOCAP, "batch", str(manifest), "--out-dir", str(out), "--progress", "none",
                             *[f"--set={k}={v}" for k, v in SHORT.items()], "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started: dict[int, int | None] = {}  # the batch's children (the workers, multiprocessing's resource tracker)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            started = {pid: _start_time(pid) for pid in _children(proc.pid)}
            workers = [pid for pid in started if b"spawn_main" in _cmdline(pid)]
            if len(workers) == 2:
                break
            time.sleep(0.05)
        assert len(workers) == 2, "the batch started no workers"
        time.sleep(1)  # let the workers get to work: the kill should find them busy, not starting
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_start_time(p) == t for p, t in started.items()):
            time.sleep(0.1)
        left = [p for p, t in started.items() if t is not None and _start_time(p) == t]
    finally:
        proc.kill()
        for pid, t in started.items():  # never leave them running, even when failing
            if t is not None and _start_time(pid) == t:
                os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after the batch was killed: {left}"
    with exclusive_batch(out):  # no stale lock: a new batch may start
        pass


def test_second_batch_on_the_same_folder_stops_at_once(tmp_path, monkeypatch):
    """While a batch holds the output folder, another one on it exits at once with one line
    naming the folder and the holder's pid, and writes nothing; once the holder is gone the
    folder is free."""
    import mocap.batch as batch

    (tmp_path / "a.mp4").write_bytes(b"take one")
    manifest = tmp_path / "m.csv"
    manifest.write_text("input,output\na.mp4,a.bvh\n")
    out = tmp_path / "out"
    (out / ".mocap-batch").mkdir(parents=True)
    with open(out / ".mocap-batch" / "lock", "w") as holder:  # the running batch
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.write(f"{os.getpid()}\n")
        holder.flush()
        before = _tree(out)
        proc = _batch(manifest, out)
        assert proc.returncode == EXIT_OUTPUT
        assert proc.stderr.splitlines() == [
            f"mocap: error: {out}: another mocap batch is running on this output folder (pid {os.getpid()})"]
        assert proc.stdout == "" and _tree(out) == before
        with pytest.raises(OutputError, match="another mocap batch is running"):
            run_batch(read_manifest(manifest, ".bvh"), out)
        assert _tree(out) == before

    calls = []
    monkeypatch.setattr(batch, "_pool_submitter", _inline_pool(calls))
    report = run_batch(read_manifest(manifest, ".bvh"), out, SHORT)
    assert [r.status for r in report.results] == ["done"] and len(calls) == 1
    assert (out / ".mocap-batch" / "lock").read_text() == f"{os.getpid()}\n"  # its holder was this process


def test_worker_of_a_batch_already_gone_exits():
    """A worker whose batch died before the worker could ask to die with it (its parent is
    not the batch any more) exits in its initializer instead of waiting for work forever."""
    code = "import os\nfrom mocap.batch import _die_with_parent\n_die_with_parent(os.getppid() + 1)\nprint('alive')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "alive" not in proc.stdout
