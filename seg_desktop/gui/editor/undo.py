"""The undo command of the mask editor: one `core.edits.Edit` patch per user action.

A command stores only the changed rectangle before and after (a brush drag is merged into one patch by
`core.edits.merge_edits` before it is pushed), so a long editing session on a 4096x4096 mask holds kilobytes
per step, not a 16 MB copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand

from ...core.edits import BBox, Edit, apply_patch


class EditCommand(QUndoCommand):
    """Undo/redo one applied `Edit` on `mask`; `changed(bbox)` is told which rectangle to repaint.

    The tools have already applied the edit when the command is pushed (the user saw each stroke segment as
    it was drawn), and QUndoStack.push calls redo() at once: that first redo is skipped rather than re-writing
    the same pixels and repainting a second time.
    """

    def __init__(
        self, text: str, mask: np.ndarray, edit: Edit, changed: Callable[[BBox], None]
    ) -> None:
        super().__init__(text)
        self._mask = mask
        self._edit = edit
        self._changed = changed
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            return
        apply_patch(self._mask, self._edit.bbox, self._edit.after)
        self._applied = True
        self._changed(self._edit.bbox)

    def undo(self) -> None:
        apply_patch(self._mask, self._edit.bbox, self._edit.before)
        self._applied = False
        self._changed(self._edit.bbox)
