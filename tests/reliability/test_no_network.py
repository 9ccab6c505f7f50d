"""The app never opens a network connection: open -> edit -> train -> evaluate -> export on the sample dataset.

Sockets are refused for the whole flow (creation included), so any library reaching for the network — a weights
download, telemetry — fails this test instead of silently working on a connected developer machine.
"""

import socket

import numpy as np
import pytest

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.edits import stroke
from seg_desktop.core.sample_data import make_sample_dataset


class _NoSocket(socket.socket):
    opened: list = []

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if family in (socket.AF_INET, socket.AF_INET6):
            _NoSocket.opened.append((family, type))
            raise PermissionError("network access attempted")
        super().__init__(family, type, proto, fileno)


def test_open_edit_train_export_opens_no_socket(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "socket", _NoSocket)
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: _NoSocket.opened.append(a) or pytest.fail("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: _NoSocket.opened.append(a) or pytest.fail("dns"))
    from seg_desktop.ml.config import TrainConfig
    from seg_desktop.ml.predict import export_predictions, load_run
    from seg_desktop.ml.train import train

    ds = open_dataset(make_sample_dataset(tmp_path / "data", n=6, size=32, seed=2))
    sample = ds.samples[0]
    mask = ds.read_mask(sample)
    stroke(mask, [(3, 3), (20, 20)], 2, 1)
    ds.write_mask(sample, mask)
    run = train(TrainConfig(data=str(ds.root), model="unet", epochs=1, size=(32, 32), batch=4, base_filters=4,
                            out=str(tmp_path / "run")))
    loaded = load_run(run.folder)
    paths = export_predictions(loaded, ds, ds.samples, tmp_path / "out")
    assert len(paths) == len(ds.samples) and np.asarray(ds.read_mask(sample)).shape == (32, 32)
    assert _NoSocket.opened == []
