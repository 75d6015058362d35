import numpy as np

from mocap.crop import crop_window, cut, person_region


def test_window_keeps_aspect_and_contains_the_box():
    box = np.array([100.0, 50.0, 160.0, 250.0])  # 60 x 200
    for aspect in (1.0, 192 / 256):
        x0, y0, w, h = crop_window(box, aspect=aspect, scale=1.2)
        assert abs(w / h - aspect) < 0.01
        assert x0 <= 100 and y0 <= 50 and x0 + w >= 160 and y0 + h >= 250
        assert abs((x0 + w / 2) - 130) <= 1 and abs((y0 + h / 2) - 150) <= 1  # centred


def test_cut_pads_outside_the_image_and_maps_back_by_offset():
    image = np.arange(20 * 30 * 3, dtype=np.uint16).reshape(20, 30, 3)
    patch = cut(image, np.array([-5, 10, 12, 15]))
    assert patch.shape == (15, 12, 3)
    assert np.all(patch[:, :5] == 0) and np.all(patch[10:] == 0)  # left of and below the image
    assert np.array_equal(patch[0, 5], image[10, 0])  # crop (5, 0) is image (0, 10)


def test_cut_blanks_everything_outside_the_person_region():
    image = np.full((100, 200, 3), 200, np.uint8)
    box = np.array([90.0, 20.0, 110.0, 80.0])  # 20 x 60 person
    region = person_region(box)  # grown by 0.15 * 60 = 9 px on every side
    np.testing.assert_allclose(region, [81, 11, 119, 89])
    window = crop_window(box, aspect=1.0)  # square around the box: wider than the region
    patch = cut(image, window, keep=region)
    x0, y0 = window[:2]
    xs = np.flatnonzero(patch[patch.shape[0] // 2, :, 0])
    assert xs[0] + x0 == 81 and xs[-1] + x0 == 118  # [81, 119) kept, neighbours blanked
    ys = np.flatnonzero(patch[:, patch.shape[1] // 2, 0])
    assert ys[0] + y0 == 11 and ys[-1] + y0 == 88
