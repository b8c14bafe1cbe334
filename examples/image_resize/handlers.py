"""Task handler for image_resize: resize-image, called once per size by the Map state.

Payload: ``{"image": {"bucket", "key", ...}, "size": {"name", "width"}}``. A key that is not
.jpg/.jpeg/.png/.webp raises UnsupportedImageFormat. ``"busy_times": n`` in the image makes
every size raise ImageServiceBusy on its first n calls (then succeed; use 1000 for "always").
"""

from __future__ import annotations

from typing import Any


class UnsupportedImageFormat(Exception):
    """The file is not an image we can resize."""


class ImageServiceBusy(Exception):
    """The image service is overloaded; try again shortly."""


_FORMATS = {"jpg", "jpeg", "png", "webp"}
_FAILURES: dict[str, int] = {}


def resize_image(payload: dict[str, Any]) -> dict[str, Any]:
    """resize-image: write one rendition and say where it is."""
    image, size = payload["image"], payload["size"]
    bucket, key = image["bucket"], image["key"]
    if key.rsplit(".", 1)[-1].lower() not in _FORMATS or "." not in key:
        raise UnsupportedImageFormat(f"{key} is not a supported image")
    times = int(image.get("busy_times", 0))
    if times > 0:
        counter = f"{bucket}/{key}:{size['name']}"
        seen = _FAILURES.get(counter, 0) + 1
        if seen <= times:
            _FAILURES[counter] = seen
            raise ImageServiceBusy(f"image service busy (failure {seen} of {times})")
        _FAILURES.pop(counter, None)
    name = key.rsplit("/", 1)[-1]
    return {
        "size": size["name"],
        "width": size["width"],
        "location": f"s3://{bucket}/resized/{size['name']}/{name}",
    }
