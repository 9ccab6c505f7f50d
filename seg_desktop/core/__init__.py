"""numpy/OpenCV/Pillow-only data layer: imports in milliseconds, never touches Qt or TensorFlow."""
