"""The Stain and Colors fields: free text, with the stain table's names offered as you type."""

from __future__ import annotations

from magicgui.widgets import LineEdit

from ..core.config import HELP


def stain_fields() -> tuple[LineEdit, LineEdit]:
    """Build the Stain field (completing the table's names) and the Colors field.

    Returns
    -------
    tuple of LineEdit
        Both empty: the model's own colours.
    """
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QCompleter

    from ..core.stains import stain_table

    stain = LineEdit(label="Stain", value="", tooltip=HELP["stain"])
    stain.native.setPlaceholderText("H&E (the model's own)")
    completer = QCompleter(list(stain_table()), stain.native)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    stain.native.setCompleter(completer)
    colors = LineEdit(label="Colors", value="", tooltip=HELP["colors"])
    colors.native.setPlaceholderText("e.g. nuclei dark blue, cytoplasm pink")
    return stain, colors


def text_or_none(field: LineEdit) -> str | None:
    """Return the field's text, or None when it is empty."""
    return field.value.strip() or None
