"""napari integration: the Colorize widget, sample data, reader and writer (npe2 manifest).

This is the only subpackage that imports napari, magicgui or Qt.
"""
