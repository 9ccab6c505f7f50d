"""The editor's QActions (tools, undo/redo, view) with their shortcuts, for menus, toolbars and the keyboard.

The actions are also added to the editor widget itself, so their shortcuts work even in a window that shows
none of them in a menu.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from .canvas import MaskEditor

TOOL_ACTIONS = (
    ("brush", "&Brush", "B"),
    ("eraser", "&Eraser", "E"),
    ("polygon", "&Polygon", "P"),
    ("fill", "&Flood fill", "F"),
    ("wand", "Magic &wand", "W"),
    ("grabcut", "&GrabCut box", "G"),
    ("eyedropper", "Eyedropper", "I"),
    ("prediction", "P&rediction brush", "R"),
    ("scribble", "&Scribble classifier", "S"),
    ("watershed", "Marker waters&hed", "H"),
    ("superpixel", "S&uperpixel brush", "U"),
    ("sam", "S&AM (your ONNX model)", "M"),
)


class EditorActions(QObject):
    """Creates and owns the actions for one MaskEditor; `tool_actions` are exclusive and checkable."""

    def __init__(self, editor: MaskEditor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.tool_group = QActionGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_actions: dict[str, QAction] = {}
        for name, text, key in TOOL_ACTIONS:
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.setCheckable(True)
            action.setChecked(name == editor.tool())
            action.setToolTip(f"{text.replace('&', '')} ({key})")
            action.triggered.connect(lambda _=False, n=name: editor.set_tool(n))
            self.tool_group.addAction(action)
            self.tool_actions[name] = action
        editor.toolChanged.connect(lambda n: self.tool_actions[n].setChecked(True))

        group = editor.undo_group()
        self.undo = self._action("&Undo", [QKeySequence.StandardKey.Undo], editor.undo)
        self.redo = self._action("&Redo", [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")], editor.redo)
        self.undo.setEnabled(group.canUndo())
        self.redo.setEnabled(group.canRedo())
        group.canUndoChanged.connect(self.undo.setEnabled)
        group.canRedoChanged.connect(self.redo.setEnabled)
        group.undoTextChanged.connect(lambda t: self.undo.setText(f"&Undo {t}".rstrip()))
        group.redoTextChanged.connect(lambda t: self.redo.setText(f"&Redo {t}".rstrip()))

        self.toggle_overlay = self._action("Show &overlay", [QKeySequence("O"), QKeySequence("Tab")], None)
        self.toggle_overlay.setCheckable(True)
        self.toggle_overlay.setChecked(editor.overlay_visible())
        self.toggle_overlay.toggled.connect(editor.set_overlay_visible)
        editor.overlayVisibleChanged.connect(self.toggle_overlay.setChecked)

        self.fit = self._action("&Fit to window", [QKeySequence("Ctrl+0")], editor.fit_to_window)
        self.zoom_in = self._action("Zoom &in", [QKeySequence.StandardKey.ZoomIn, QKeySequence("Ctrl+=")],
                                    editor.zoom_in)
        self.zoom_out = self._action("Zoom &out", [QKeySequence.StandardKey.ZoomOut], editor.zoom_out)
        editor.addActions(self.actions())

    def actions(self) -> list[QAction]:
        return [*self.tool_actions.values(), self.undo, self.redo, self.toggle_overlay, self.fit,
                self.zoom_in, self.zoom_out]

    def _action(self, text: str, keys: list, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcuts(keys)
        if slot is not None:
            action.triggered.connect(slot)
        return action
