import io
import json

from mocap.progress import JsonProgress


def test_json_progress_lines_are_throttled_and_finish_at_the_real_count():
    out = io.StringIO()
    p = JsonProgress(out, interval=3600)  # nothing between start and finish
    p.start("estimate", 100)
    for _ in range(90):  # the container over-declared its frames
        p.advance("estimate")
    p.finish("estimate")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines == [
        {"stage": "estimate", "done": 0, "total": 100},
        {"stage": "estimate", "done": 90, "total": 90, "finished": True},
    ]


def test_json_progress_reports_every_step_with_zero_interval():
    out = io.StringIO()
    p = JsonProgress(out, interval=0)
    p.start("export", None)
    p.advance("export", 2)
    p.finish("export")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [ln["done"] for ln in lines] == [0, 2, 2] and lines[-1]["total"] == 2
