"""The bodies of the ``napari-colorize`` commands (the parser is in :mod:`napari_colorize.cli`)."""
