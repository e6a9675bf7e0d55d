"""The menu entries the docs name are the ones napari shows."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _entries(menu, path):
    """Yield the path of every entry and submenu under a Qt menu."""
    for action in menu.actions():
        entry = [*path, action.text().replace("&", "").removesuffix("...")]  # "Save...": a dialog
        yield " > ".join(entry)
        if action.menu() is not None:
            yield from _entries(action.menu(), entry)


def test_documented_menu_paths_are_napari_s(make_napari_viewer):
    viewer = make_napari_viewer()
    shown = set()
    for action in viewer.window._qt_window.menuBar().actions():
        if action.menu() is not None:
            shown.update(_entries(action.menu(), [action.text().replace("&", "")]))
    for doc in ("README.md", "docs/guide.md"):
        text = " ".join((ROOT / doc).read_text().split())  # a path may wrap across lines
        named = re.findall(r"\*\*((?:File|Layers|Plugins) > [^*]+)\*\*", text)
        assert any("Colorize" in path for path in named), doc
        for path in named:
            assert path in shown, (doc, path)
