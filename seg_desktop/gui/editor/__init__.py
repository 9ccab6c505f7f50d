"""The mask editor: canvas (MaskEditor), class palette, tool options and the editor's actions."""

from .actions import EditorActions
from .canvas import MaskEditor
from .palette import ClassPalette
from .tool_options import ToolOptions

__all__ = ["ClassPalette", "EditorActions", "MaskEditor", "ToolOptions"]
