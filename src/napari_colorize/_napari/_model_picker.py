"""The model picker of the Colorize widget: bundled models, model files, and loaded models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.utils.notifications import show_error

from ..models.devices import resolve_device
from ..models.registry import list_models, load_model
from ._specs import read_spec

if TYPE_CHECKING:
    from ..models.spec import ModelSpec

LOAD_FILE = "Load model file..."


class ModelPicker:
    """Mixin for a panel with a ``_model_combo`` and a ``_device_combo``.

    The combo's choices come from :meth:`_model_choices`. ``_model_files`` maps a picker label
    to the file a model came from; ``_models`` keeps loaded models by (label, device), so a
    run does not load them again.
    """

    _model_combo: Any
    _device_combo: Any
    native: Any
    _model_files: dict[str, str]
    _models: dict[tuple[str, str], Any]
    #: The last model picked (not the "Load model file..." entry): a cancelled dialog goes back.
    _last_model: str | None = None

    def _model_choices(self, _widget: Any = None) -> list[str]:
        return [*list_models(), *self._model_files, LOAD_FILE]

    def _picked_model(self) -> str | None:
        """Name the picked model as ``load_model`` takes it: a name, or the file it came from."""
        choice = self._model_combo.value
        return None if choice in (None, LOAD_FILE) else self._model_files.get(choice, choice)

    def _model_spec(self, choice: str | None) -> ModelSpec | None:
        """Return the picked model's spec: the loaded model's, else its card's (no weights)."""
        if choice is None:
            return None
        for (name, _device), model in self._models.items():
            if name == choice:
                return model.spec
        return read_spec(self._model_files.get(choice, choice))

    def _ask_model_file(self) -> None:
        """Ask for a model file (the last entry); without one, go back to the last model picked."""
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(
            self.native, "Load colorization model", "",
            "Models (*.safetensors *.json *.zip);;bioimage.io packages (*.zip)"
        )
        if not (path and self.add_model_file(path)):
            last = self._last_model
            self._model_combo.value = last if last in self._model_combo.choices else None

    def select_model(self, name: str) -> None:
        """Offer the models found now (e.g. one just tuned) and select one.

        Parameters
        ----------
        name : str
            The model to select.
        """
        self._model_combo.reset_choices()
        self._model_combo.value = name
        self._keep_load_last()

    def _keep_load_last(self) -> None:
        """Put "Load model file..." back at the end: magicgui appends a new choice after it."""
        combo = self._model_combo
        if combo.choices[-1] != LOAD_FILE and combo.value != LOAD_FILE:
            with combo.changed.blocked():  # the picked model stays the same
                combo.del_choice(LOAD_FILE)
                combo.reset_choices()

    def add_model_file(self, path: str | Path) -> bool:
        """Load a model file, offer it in the model picker and select it; notify on failure.

        Parameters
        ----------
        path : str or Path
            The model's ``.safetensors`` weights or ``.json`` card, or a package napari-colorize
            exported (``.zip``).

        Returns
        -------
        bool
            Whether the model loaded.
        """
        device = str(resolve_device(self._device_combo.value))
        try:
            model = load_model(path, device=device)
        except (ValueError, OSError) as exc:
            show_error(f"Cannot load model file {Path(path).name}: {str(exc).splitlines()[0]}")
            return False
        label = f"{model.spec.name} ({Path(path).name})"
        self._model_files[label] = str(path)
        self._models[(label, device)] = model
        self._model_combo.reset_choices()
        self._model_combo.value = label
        self._keep_load_last()
        return True
