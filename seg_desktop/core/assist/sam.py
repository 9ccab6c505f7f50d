"""Bring-your-own SAM: prompt a SAM-family model (SAM, MobileSAM, EfficientSAM exported to ONNX) that the user
already has as an encoder + decoder ONNX pair. Nothing is ever downloaded; without the optional `onnxruntime`
(the `onnx` extra) or without the files, `load_sam` says what to get and where to point the tool.

The pair follows the segment-anything ONNX export: the encoder takes a (1, 3, S, S) float32 image (longest side
resized to S, normalised with SAM's pixel mean/std, padded bottom-right) and returns the image embedding; the
decoder takes `image_embeddings`, `point_coords` (1, N, 2) in encoder pixels, `point_labels` (1, N: 1 positive,
0 negative, 2/3 box corners, -1 padding), `mask_input` (1, 1, 256, 256), `has_mask_input` (1,) and
`orig_im_size` (2,), and returns `masks` (1, K, H, W logits at the original size) and `iou_predictions` (1, K).
The embedding costs the encoder's seconds once per image; it is cached in `.seg-desktop/cache/sam/`, so each
click only runs the small decoder.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import DatasetError
from ..paths import display_path
from ..predictions import file_name

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
DECODER_INPUTS = {"image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"}
CACHE_DIR = Path(".seg-desktop") / "cache" / "sam"
WHAT_TO_GET = ("export a SAM, MobileSAM or EfficientSAM model to an encoder and a decoder ONNX file (the "
               "segment-anything ONNX export) and choose both with the SAM tool's \"SAM model…\" button")


@dataclass(frozen=True)
class Prompt:
    """Clicks (x, y, positive) in image pixels and an optional box (x0, y0, x1, y1)."""

    points: Sequence[tuple[float, float, bool]] = ()
    box: tuple[float, float, float, float] | None = None


class SamModel:
    """An encoder + decoder ONNX pair on onnxruntime's CPU provider."""

    def __init__(self, encoder: Path, decoder: Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DatasetError("The SAM tool needs onnxruntime: install seg-desktop[onnx] (pip install "
                               "onnxruntime); no model is downloaded.", encoder) from exc
        self.encoder_path, self.decoder_path = Path(encoder), Path(decoder)
        sessions = []
        for path in (self.encoder_path, self.decoder_path):
            if not path.is_file():
                raise DatasetError(f"{display_path(path)} is not there; {WHAT_TO_GET}.", path)
            try:
                sessions.append(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
            except Exception as exc:  # onnxruntime raises its own exception types for any bad file
                raise DatasetError(f"{display_path(path)} is not an ONNX model onnxruntime can load ({exc}); "
                                   f"{WHAT_TO_GET}.", path) from exc
        self._encoder, self._decoder = sessions
        inputs = self._encoder.get_inputs()
        shape = inputs[0].shape if len(inputs) == 1 else []
        if len(shape) != 4:
            raise DatasetError(f"{display_path(self.encoder_path)} does not look like a SAM image encoder (one "
                               f"(1, 3, S, S) input expected); {WHAT_TO_GET}.", self.encoder_path)
        self.size = int(shape[-1]) if isinstance(shape[-1], int) else 1024
        names = {i.name for i in self._decoder.get_inputs()}
        if not DECODER_INPUTS <= names:
            raise DatasetError(f"{display_path(self.decoder_path)} does not look like a SAM mask decoder (inputs "
                               f"{sorted(DECODER_INPUTS - names)} missing); {WHAT_TO_GET}.", self.decoder_path)

    def fingerprint(self) -> str:
        """Names the pair in cache file names: a new or changed model never reuses an old embedding."""
        h = hashlib.sha256()
        for path in (self.encoder_path, self.decoder_path):
            st = path.stat()
            h.update(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]

    def _scale(self, shape: tuple[int, int]) -> float:
        return self.size / max(shape)

    def embed(self, image: np.ndarray) -> np.ndarray:
        """The image embedding (seconds with a real SAM encoder: run it on a worker, cache it)."""
        h, w = image.shape[:2]
        s = self._scale((h, w))
        nh, nw = max(int(h * s + 0.5), 1), max(int(w * s + 0.5), 1)
        rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
        resized = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (nw, nh), interpolation=cv2.INTER_LINEAR)
        padded = np.zeros((self.size, self.size, 3), np.float32)
        padded[:nh, :nw] = (resized.astype(np.float32) - MEAN) / STD
        tensor = padded.transpose(2, 0, 1)[None]
        return self._encoder.run(None, {self._encoder.get_inputs()[0].name: tensor})[0]

    def predict(self, embedding: np.ndarray, shape: tuple[int, int], prompt: Prompt) -> np.ndarray | None:
        """The best of the decoder's masks (bool, the image's size) for `prompt`; None without any prompt."""
        coords, labels = [], []
        for x, y, positive in prompt.points:
            coords.append((x + 0.5, y + 0.5))
            labels.append(1.0 if positive else 0.0)
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            coords += [(x0, y0), (x1, y1)]
            labels += [2.0, 3.0]
        else:
            coords.append((0.0, 0.0))
            labels.append(-1.0)  # SAM's padding point when there is no box
        if len(labels) == 1 and prompt.box is None:
            return None
        s = self._scale(shape)
        feeds = {
            "image_embeddings": embedding.astype(np.float32),
            "point_coords": (np.array(coords, np.float32) * s)[None],
            "point_labels": np.array(labels, np.float32)[None],
            "mask_input": np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array(shape, np.float32),
        }
        names = [o.name for o in self._decoder.get_outputs()]
        out = dict(zip(names, self._decoder.run(None, feeds)))
        masks, scores = out["masks"], out["iou_predictions"]
        best = masks[0, int(np.argmax(scores[0]))]
        if best.shape != tuple(shape):
            best = cv2.resize(best.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        return best > 0


def cached_embedding(model: SamModel, image: np.ndarray, dataset_root: Path | None, key: str) -> np.ndarray:
    """`model.embed(image)`, read from / written to `DATASET/.seg-desktop/cache/sam/<model>/<key>.npy` when a
    dataset is open (an unreadable cache file only costs a new embedding; the write is atomic)."""
    if dataset_root is None:
        return model.embed(image)
    path = Path(dataset_root) / CACHE_DIR / model.fingerprint() / f"{file_name(key)}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass
    embedding = model.embed(image)
    buffer = io.BytesIO()
    np.save(buffer, embedding, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
    return embedding
