"""Decoding of every odd kind of file a user's photo folder holds."""

import io

import numpy as np
import pytest
from PIL import Image

from aesthetics.data.images import ImageDecodeError, find_images, load_image, load_image_legacy


def _photo(w=40, h=30):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], -1).astype(np.uint8)


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("BMP", "bmp"),
                                     ("WEBP", "webp"), ("TIFF", "tif"), ("GIF", "gif")])
def test_formats_decode_to_rgb_uint8(tmp_path, fmt, ext):
    path = tmp_path / f"a.{ext}"
    Image.fromarray(_photo()).save(path, fmt)
    arr = load_image(path)
    assert arr.shape == (30, 40, 3) and arr.dtype == np.uint8


def test_lossless_formats_are_exact(tmp_path):
    img = _photo()
    for ext in ("png", "bmp", "tif"):
        Image.fromarray(img).save(tmp_path / f"a.{ext}")
        np.testing.assert_array_equal(load_image(tmp_path / f"a.{ext}"), img)


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    arr = load_image(tmp_path / "anim.gif")
    assert arr[0, 0, 0] > 200 and arr[0, 0, 2] < 50  # red, the first frame


def test_exif_orientation_applied(tmp_path):
    img = Image.fromarray(_photo(40, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW when displayed
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").shape == (40, 30, 3)
    assert load_image(tmp_path / "rot.jpg", exif_transpose=False).shape == (30, 40, 3)


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (10, 10), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # red in CMYK
    arr = load_image(tmp_path / "cmyk.jpg")
    assert arr.shape == (10, 10, 3)
    assert arr[..., 0].mean() > 200 and arr[..., 1].mean() < 60


def test_16bit_grayscale_png(tmp_path):
    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    arr = load_image(tmp_path / "g16.png")
    assert arr.shape == (8, 8, 3) and arr.dtype == np.uint8
    assert arr[-1, -1, 0] == round(63000 * 255 / 65535)  # scaled by 16-bit range, not clipped
    assert np.all(arr[..., 0] == arr[..., 2])


def test_palette_and_grayscale(tmp_path):
    Image.fromarray(_photo()).convert("P").save(tmp_path / "p.png")
    Image.fromarray(_photo()).convert("L").save(tmp_path / "l.jpg")
    Image.fromarray(_photo()).convert("1").save(tmp_path / "bw.png")
    for name in ("p.png", "l.jpg", "bw.png"):
        assert load_image(tmp_path / name).shape == (30, 40, 3)


def test_alpha_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    arr = load_image(tmp_path / "a.png")
    assert tuple(arr[0, 0]) == (255, 0, 0)
    assert tuple(arr[3, 3]) == (255, 255, 255)
    Image.fromarray(rgba, "RGBA").convert("LA").save(tmp_path / "la.png")
    assert tuple(load_image(tmp_path / "la.png")[3, 3]) == (255, 255, 255)


def test_truncated_jpeg_is_an_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageDecodeError, match="cannot decode"):
        load_image(tmp_path / "t.jpg")


@pytest.mark.parametrize("content,reason", [(b"not an image", "identify"), (b"", "identify")])
def test_garbage_is_an_error(tmp_path, content, reason):
    (tmp_path / "x.jpg").write_bytes(content)
    with pytest.raises(ImageDecodeError, match=reason):
        load_image(tmp_path / "x.jpg")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ImageDecodeError, match="not found"):
        load_image(tmp_path / "nope.jpg")


def test_pixel_limit_guards_bombs(tmp_path):
    Image.new("L", (300, 300)).save(tmp_path / "big.png")
    with pytest.raises(ImageDecodeError, match="too large"):
        load_image(tmp_path / "big.png", max_pixels=300 * 300 - 1)
    assert load_image(tmp_path / "big.png", max_pixels=300 * 300).shape == (300, 300, 3)


def test_legacy_loader_matches_keras_load_img(tmp_path):
    import keras

    Image.fromarray(_photo(50, 70)).save(tmp_path / "a.png")
    ours = load_image_legacy(tmp_path / "a.png", 24)
    theirs = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png", target_size=(24, 24)))
    np.testing.assert_array_equal(ours, theirs.astype(np.uint8))


def test_find_images(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.jpg", "b.PNG", "notes.txt", "sub/c.webp"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.split("/")[-1] for p in find_images([tmp_path])] == ["a.jpg", "b.PNG"]
    assert len(find_images([tmp_path], recursive=True)) == 3
    assert len(find_images([str(tmp_path / "*.jpg")])) == 1
    assert find_images([tmp_path / "notes.txt"]) == [str(tmp_path / "notes.txt")]  # explicit: kept
    with pytest.raises(FileNotFoundError):
        find_images([tmp_path / "missing*.jpg"])
