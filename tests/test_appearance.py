"""Looks (colours of the upper and lower body inside the mask) and joining tracklets by them."""

import numpy as np

from mocap.appearance import LOOK_SIZE, look_distance, look_of, mean_look
from mocap.cues import BodyCue
from mocap.track import MAX_LOOK, SAME_LOOK, Tracklet, join_groups

S = 256


def _landmarks():
    """Landmarks (33, 2) of an upright body in a 256 crop: shoulders at y 70, hips 140, knees 190,
    ankles 240."""
    lm = np.zeros((33, 2))
    lm[:, 0] = 128
    lm[[11, 12], 1], lm[[23, 24], 1], lm[[25, 26], 1], lm[[27, 28], 1] = 70, 140, 190, 240
    return lm


def _person(shirt, trousers, background=(90, 140, 200)):
    """A crop (S, S, 3) of a person-shaped block: shirt above the hips, trousers below, and a mask."""
    crop = np.empty((S, S, 3), np.uint8)
    crop[:] = background
    crop[60:140, 98:158] = shirt
    crop[140:245, 103:153] = trousers
    mask = np.zeros((S, S), bool)
    mask[60:245, 103:153] = True
    return crop, mask


def test_looks_tell_clothes_apart_and_ignore_the_background():
    red_black, mask = _person((200, 30, 30), (20, 20, 25))
    same_other_background, _ = _person((200, 30, 30), (20, 20, 25), background=(10, 200, 10))
    green_black, _ = _person((30, 160, 40), (20, 20, 25))
    red_grey, _ = _person((200, 30, 30), (140, 140, 140))
    a, b = look_of(red_black, mask, _landmarks()), look_of(same_other_background, mask, _landmarks())
    c, d = look_of(green_black, mask, _landmarks()), look_of(red_grey, mask, _landmarks())
    assert a.shape == (LOOK_SIZE,) and np.isclose(a.sum(), 2.0)
    assert look_distance(a, b) < 1e-6  # the mask keeps the background out
    # Another shirt over the same trousers, or other trousers: another person.
    assert look_distance(a, c) > MAX_LOOK and look_distance(a, d) > MAX_LOOK and look_distance(c, d) > MAX_LOOK
    assert look_distance(a, mean_look([a, b])) < 1e-6


def test_a_body_cut_off_or_not_upright_has_no_look():
    crop, mask = _person((200, 30, 30), (20, 20, 25))
    assert look_of(crop, np.zeros_like(mask), _landmarks()) is None  # nobody in the mask
    legs_cut = mask.copy()
    legs_cut[140:] = False  # the image ends at the hips
    assert look_of(crop, legs_cut, _landmarks()) is None
    upside_down = _landmarks()
    upside_down[:, 1] = S - upside_down[:, 1]
    assert look_of(crop, mask, upside_down) is None


def _tracklet(tid, t0, t1, x0, x1, fps=10.0, h=200.0):
    times = np.arange(t0, t1, 1 / fps)
    xs = np.linspace(x0, x1, len(times))
    boxes = np.array([[x - 0.2 * h, 100, x + 0.2 * h, 100 + h] for x in xs])
    return Tracklet(tid, np.round(times * fps).astype(int), times, boxes, np.ones(len(times)))


def _cues(looks):
    return {tid: (BodyCue(None, None, look), BodyCue(None, None, look)) for tid, look in looks.items()}


def test_someone_who_comes_back_looking_the_same_gets_their_id_back():
    red, mask = _person((200, 30, 30), (20, 20, 25))
    green, _ = _person((30, 160, 40), (20, 20, 25))
    red, green = look_of(red, mask, _landmarks()), look_of(green, mask, _landmarks())
    # 1 walks out on the right; 3 walks in where 1 left, soon after; 1 comes back 6 s later.
    tracklets = {1: _tracklet(1, 0.0, 2.8, 300, 640), 3: _tracklet(3, 3.5, 8.0, 640, 0),
                 2: _tracklet(2, 8.5, 11.0, 640, 300)}
    groups = join_groups(tracklets, cues=_cues({1: red, 3: green, 2: red}))
    assert groups == {1: [1, 2], 3: [3]}
    # Without looks, 3 continues 1 by motion alone (the mistake looks prevent), and nobody
    # continues after 6 s.
    assert join_groups(tracklets) == {1: [1, 3], 2: [2]}
    # Looks alike only within SAME_LOOK rejoin without motion.
    far = look_of(*_person((200, 30, 30), (140, 140, 140)), _landmarks())
    assert look_distance(red, far) > SAME_LOOK
    assert join_groups(tracklets, cues=_cues({1: red, 3: green, 2: far})) == {1: [1], 3: [3], 2: [2]}


def test_looks_never_join_people_seen_at_the_same_time():
    red = look_of(*_person((200, 30, 30), (20, 20, 25)), _landmarks())
    tracklets = {1: _tracklet(1, 0.0, 3.0, 100, 200), 2: _tracklet(2, 2.0, 5.0, 500, 400)}
    assert join_groups(tracklets, cues=_cues({1: red, 2: red})) == {1: [1], 2: [2]}
