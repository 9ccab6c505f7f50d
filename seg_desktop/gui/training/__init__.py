"""Training half of the GUI: the TrainingPanel dock (form, worker thread, live curves, compare runs)."""

from .panel import TrainingPanel

__all__ = ["TrainingPanel"]
