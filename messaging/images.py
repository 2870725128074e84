"""Message images: decode with Pillow, re-encode, drop every metadata block (EXIF with GPS, XMP, ICC text).

An upload is trusted only after Pillow decoded every pixel: the stored file
is a new image written from those pixels (JPEG, PNG or WebP, the upload's own
format), so nothing the client put around the pixels (EXIF GPS position,
camera serials, comments, trailing bytes, polyglot payloads) survives.
"""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import InvalidInput

#: Accepted input formats -> (output format, extension, save options).
_FORMATS = {
    "JPEG": ("JPEG", "jpg", {"quality": 85, "optimize": True}),
    "PNG": ("PNG", "png", {"optimize": True}),
    "WEBP": ("WEBP", "webp", {"quality": 85}),
}


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, fields={"image": [message]})


def image_sanitize(upload) -> ContentFile:
    """Return a re-encoded copy of ``upload`` (a Django ``UploadedFile``) without metadata.

    Limits: ``MESSAGE_IMAGE_MAX_BYTES`` bytes in, ``MESSAGE_IMAGE_MAX_PIXELS``
    pixels (checked from the header, before decoding), longest side scaled
    down to ``MESSAGE_IMAGE_MAX_SIDE_PX``. The EXIF orientation is applied to
    the pixels, then every EXIF/XMP block is dropped. Raises
    :class:`InvalidInput` (400, ``fields.image``) for a file that is too
    large, not an image, truncated, or not JPEG/PNG/WebP.
    """
    size = getattr(upload, "size", None)
    if size is None or size > settings.MESSAGE_IMAGE_MAX_BYTES:
        raise _bad(f"Images are limited to {settings.MESSAGE_IMAGE_MAX_BYTES} bytes.")
    upload.seek(0)
    raw = upload.read(settings.MESSAGE_IMAGE_MAX_BYTES + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(raw))
            fmt = probe.format
            width, height = probe.size
            if fmt not in _FORMATS:
                raise _bad("Images must be JPEG, PNG or WebP.")
            if width * height > settings.MESSAGE_IMAGE_MAX_PIXELS:
                raise _bad(f"Images are limited to {settings.MESSAGE_IMAGE_MAX_PIXELS} pixels.")
            probe.load()  # decodes every pixel: truncated or corrupt data fails here
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning):
        raise _bad("Not a readable image.") from None
    image = ImageOps.exif_transpose(probe)
    out_format, ext, options = _FORMATS[fmt]
    if out_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    longest = settings.MESSAGE_IMAGE_MAX_SIDE_PX
    if max(image.size) > longest:
        image.thumbnail((longest, longest))
    # A fresh image holding only the pixels: no info dict, no EXIF, no XMP, no ICC profile.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    buf = io.BytesIO()
    clean.save(buf, format=out_format, **options)
    return ContentFile(buf.getvalue(), name=f"image.{ext}")
