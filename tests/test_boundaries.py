"""The library and the CLI must never load napari or a Qt binding."""

import subprocess
import sys

CHECK = """
import sys
import napari_colorize, napari_colorize.cli
from napari_colorize.core import engine
from napari_colorize.training import loop, evaluation
bad = sorted(m for m in sys.modules
             if m.split('.')[0] in {'napari', 'magicgui', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2',
                                    'PySide6', 'superqt', 'vispy'})
print(','.join(bad))
"""


def test_core_and_cli_import_no_qt_or_napari():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == ""


def test_package_import_is_light():
    code = "import sys, napari_colorize; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_every_sample_ships_in_the_wheel():
    """File > Open Sample reads files the wheel's data-files globs must install."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = config["data-files"]["share/napari-colorize/sample_data"]
    shipped = {p.name for g in globs for p in root.glob(g)}
    source = (root / "src/napari_colorize/_napari/_sample_data.py").read_text()
    used = set(re.findall(r'"([\w.-]+\.(?:png|jpg|tif))"', source))
    assert used
    assert used <= shipped


def test_installed_samples_are_found_through_the_package_record(tmp_path, monkeypatch):
    import importlib.metadata
    from pathlib import Path, PurePosixPath

    from napari_colorize._napari import _sample_data

    shared = tmp_path / "share" / "napari-colorize" / "sample_data"
    shared.mkdir(parents=True)

    class Entry(PurePosixPath):
        def locate(self):
            return tmp_path / "lib" / ".." / self

    record = [Entry("napari_colorize/__init__.py"),
              Entry("share/napari-colorize/sample_data/README.md")]
    monkeypatch.setattr(_sample_data, "SOURCE_DIR", tmp_path / "no-source-tree")
    monkeypatch.setattr(importlib.metadata, "files", lambda name: record)
    _sample_data.sample_dir.cache_clear()
    try:
        assert Path(_sample_data.sample_dir()).resolve() == shared.resolve()
    finally:
        _sample_data.sample_dir.cache_clear()
