"""The model row's **Export...** button: write the picked model as a bioimage.io package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from magicgui.widgets import PushButton
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from ._failure import Failure


def export_package(model: str, path: str) -> Path | Failure:
    """Export ``model`` to ``path`` in a worker thread; a user error comes back as a Failure."""
    from ..export.package import export_bioimageio

    try:  # the save dialog has already asked before replacing a file
        return export_bioimageio(model, path, overwrite=True)
    except (ValueError, TypeError, OSError) as exc:
        return Failure(f"Cannot export {Path(str(model)).name}: {str(exc).splitlines()[0]}")
    except Exception as exc:  # anything else: one notification, its traceback logged
        return Failure.unexpected(exc)


class ExportButton(PushButton):
    """**Export...**: save the picked model as a bioimage.io package (Fiji, QuPath, ilastik).

    Parameters
    ----------
    model : callable
        Returns the picked model as ``load_model`` takes it (a name or a file), or None.
    status : callable
        Shows one line in the panel's status.
    """

    def __init__(self, model: Callable[[], str | None], status: Callable[[str], None]) -> None:
        super().__init__(text="Export...", tooltip="Save this model as a bioimage.io package "
                         "(.zip) for Fiji/deepImageJ, QuPath, ilastik or bioimageio.core")
        self._model, self._status = model, status
        self.worker: Any = None
        self.changed.connect(self._on_click)

    def _on_click(self, _value: Any = None) -> None:
        from qtpy.QtWidgets import QFileDialog

        model = self._model()
        if model is None:
            return
        suggested = f"{Path(model).stem if Path(model).suffix else model}.zip"
        path, _ = QFileDialog.getSaveFileName(self.native, "Export model as bioimage.io package",
                                              suggested, "bioimage.io package (*.zip)")
        if path:
            self.export_to(path)

    def export_to(self, path: str | Path) -> Any:
        """Export the picked model to ``path`` (``.zip`` added when missing) in a worker.

        Parameters
        ----------
        path : str or Path
            The package to write.

        Returns
        -------
        worker or None
            The started worker (tests wait on it), or None when no model is picked.
        """
        model = self._model()
        if model is None:
            return None
        path = Path(path)
        path = path if path.suffix.lower() == ".zip" else path.with_name(path.name + ".zip")
        self.enabled = False
        self._status(f"exporting {Path(model).name} to {path.name}...")
        worker = create_worker(export_package, model, str(path), _start_thread=False)
        worker.returned.connect(self._on_done)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        worker.start()
        return worker

    def _on_done(self, result: Path | Failure) -> None:
        if isinstance(result, Failure):
            self._status(result.message)
            show_error(result.message)
            return
        self._status(f"exported {result.name}")
        show_info(f"Exported the model as a bioimage.io package: {result}")

    def _on_finished(self) -> None:
        self.enabled = True
