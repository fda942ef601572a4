"""Image files in and out, and conversions between uint8 pictures and tensors.

Every picture inside stylevid is an H×W×3 uint8 RGB numpy array (files) or a (B, 3, H, W)
float tensor in 0–1 (optimisation); a result saved for print may be H×W×3 uint16
(``--bit-depth 16``). This module is the only place that knows about file modes: grayscale,
palette, alpha, 16-bit, CMYK and EXIF orientation all arrive here as plain RGB.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..checks import check_picture
from ..errors import StylevidError

#: Largest image we decode (pixels). Checked from the header, before decoding (decompression bombs).
MAX_IMAGE_PIXELS = 150_000_000
#: Pillow format written for each suffix.
_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


def load_image(path: str | os.PathLike, *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read an image file as H×W×3 uint8 RGB, upright per its EXIF orientation.

    Alpha is composited over white; 16-bit images are scaled to 8 bits; CMYK, palette and
    grayscale images are converted. Raises StylevidError with a one-line reason otherwise.
    """
    path = Path(path)
    if not path.exists():
        raise StylevidError(f"{path} does not exist")
    if path.is_dir():
        raise StylevidError(f"{path} is a folder, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise StylevidError(
                        f"{path} is {width}×{height} = {width * height / 1e6:.0f} MP, over the "
                        f"{max_pixels / 1e6:.0f} MP limit; downscale it first"
                    )
                image.load()
                return _to_rgb(ImageOps.exif_transpose(image))
    except StylevidError:
        raise
    except PermissionError:
        raise StylevidError(f"cannot read {path}: permission denied") from None
    except Image.DecompressionBombError:  # Pillow's own guard, from the header: over our limit too
        raise StylevidError(
            f"{path} declares more than {max_pixels / 1e6:.0f} MP, over the limit; downscale it first"
        ) from None
    except UnidentifiedImageError:
        raise StylevidError(f"{path} is not an image file this tool can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else "damaged or truncated file"
        raise StylevidError(f"cannot decode {path}: {reason}") from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        data = np.asarray(image).astype(np.float64)
        peak = 65535.0 if mode.startswith("I;16") or data.max() > 255 else 255.0
        gray = np.clip(np.round(data * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode == "F":
        data = np.asarray(image, dtype=np.float64)
        peak = 1.0 if data.max() <= 1.0 else 255.0
        gray = np.clip(np.round(data * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB")).copy()
    if mode == "RGB":
        return np.asarray(image).copy()
    return np.asarray(image.convert("RGB")).copy()  # L, P, CMYK, YCbCr, 1, RGB;16 …


def save_image(path: str | os.PathLike, picture: np.ndarray, *, text: dict[str, str] | None = None) -> Path:
    """Write an H×W×3 RGB picture atomically (temp file + rename); format from the suffix.

    uint8 pictures go to any of the suffixes this module knows; uint16 ones (16 bits per channel,
    see :func:`to_picture16`) to .png or .tif/.tiff, written by OpenCV (Pillow writes no 16-bit RGB).
    ``text``: PNG text chunks of a uint8 picture, written before the pixels (so reading them back
    decodes nothing).
    """
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    if isinstance(picture, np.ndarray) and picture.dtype == np.uint16:
        if text:
            raise ValueError("text chunks are written with 8-bit pictures only")
        return _save_16bit(path, suffix, picture)
    check_picture("picture", picture)
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise StylevidError(f"cannot write images as {suffix}; use .png or .jpg")
    if text and fmt != "PNG":
        raise ValueError(f"text chunks need a .png file, not {suffix}")
    options: dict[str, Any] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG":
        options = {"compress_level": 1}
        if text:
            options["pnginfo"] = PngImagePlugin.PngInfo()
            for key, value in text.items():
                options["pnginfo"].add_text(key, value)
    atomic_write(path, lambda handle: Image.fromarray(picture).save(handle, format=fmt, **options))
    return path


def _save_16bit(path: Path, suffix: str, picture: np.ndarray) -> Path:
    if picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(f"picture must be (H, W, 3), got shape {picture.shape}")
    if _FORMATS.get(suffix) not in ("PNG", "TIFF"):
        raise StylevidError(f"16-bit images are written as .png or .tif, not {suffix}")
    import cv2  # here: the CLI imports this module before it needs OpenCV

    bgr = np.ascontiguousarray(picture[:, :, ::-1])  # OpenCV's channel order
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if suffix == ".png" else []
    ok, encoded = cv2.imencode(".png" if suffix == ".png" else ".tif", bgr, params)
    if not ok:
        raise StylevidError(f"OpenCV could not encode {path.name} as a 16-bit image")
    atomic_write(path, lambda handle: handle.write(encoded.tobytes()))
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> None:
    """Call ``write(binary_file)`` on a temp file beside ``path``, then rename it into place.

    A crash, Ctrl-C or a full disk leaves either the old file or the complete new one, never a
    torn one; the temp file is removed on failure.
    """
    path = Path(path)
    try:
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False)
    except FileNotFoundError:
        raise StylevidError(f"output folder {path.parent} does not exist") from None
    except PermissionError:
        raise StylevidError(f"cannot write to {path.parent}: permission denied") from None
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_umask())  # temp files are private; results are not
        os.replace(handle.name, path)
    except BaseException as error:
        try:
            os.unlink(handle.name)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError) and error.errno == 28:
            raise StylevidError(
                f"disk full while writing {path}; free some space and run again (finished work is kept)"
            ) from None
        if isinstance(error, PermissionError):
            raise StylevidError(f"cannot write {path}: permission denied") from None
        raise


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is ``long_side``; each side at least 1."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an H×W×3 uint8 picture (area filter down, Lanczos up)."""
    if picture.shape[1] == width and picture.shape[0] == height:
        return picture
    downscale = width < picture.shape[1] or height < picture.shape[0]
    resample = Image.Resampling.BOX if downscale and width * 2 <= picture.shape[1] else Image.Resampling.LANCZOS
    return np.asarray(Image.fromarray(picture).resize((width, height), resample)).copy()


def resize_long_side(picture: np.ndarray, long_side: int, *, min_side: int = 16) -> np.ndarray:
    """Resize so the long side is ``long_side`` px; refuse pictures whose short side would be < min_side."""
    width, height = fit_long_side(picture.shape[1], picture.shape[0], long_side)
    if min(width, height) < min_side:
        raise StylevidError(
            f"a {picture.shape[1]}×{picture.shape[0]} picture becomes {width}×{height} at size {long_side}; "
            f"VGG needs at least {min_side} px on each side — raise --size or crop the picture"
        )
    return resize(picture, width, height)


def to_tensor(picture: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """H×W×3 uint8 → (1, 3, H, W) float32 in 0–1."""
    check_picture("picture", picture)
    array = np.ascontiguousarray(picture)
    if not array.flags.writeable:  # torch.from_numpy warns on read-only arrays (PIL-backed ones, say)
        array = array.copy()
    tensor = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
    return tensor.to(device=device, dtype=torch.float32).div_(255.0).contiguous()


def to_picture(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float in 0–1 → H×W×3 uint8 (rounded, clipped)."""
    return _quantise(tensor, 255, torch.uint8)


def to_picture16(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float in 0–1 → H×W×3 uint16 (×65535, rounded, clipped): the
    optimised image for print, without losing its precision to 8 bits."""
    return _quantise(tensor, 65535, torch.int32).astype(np.uint16)


def _quantise(tensor: torch.Tensor, top: int, dtype: torch.dtype) -> np.ndarray:
    if tensor.dim() == 4:
        if tensor.shape[0] != 1:
            raise ValueError("to_picture takes one image; index the batch first")
        tensor = tensor[0]
    array = tensor.detach().float().clamp(0, 1).mul(top).round().to(dtype)
    return np.ascontiguousarray(array.permute(1, 2, 0).cpu().numpy())
