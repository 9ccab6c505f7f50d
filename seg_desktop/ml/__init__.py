"""TensorFlow/Keras layer of seg-desktop: models, tf.data input, losses, training, prediction.

Importing this package is cheap on purpose: TensorFlow loads only when a submodule (e.g. ``seg_desktop.ml.models``)
is imported, so the GUI can show its window first. Only environment defaults are set here, before TF can read them.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
