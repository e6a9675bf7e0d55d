"""Run / Cancel buttons, progress bar and status line of a panel that runs one worker at a time."""

from __future__ import annotations

from typing import Any


class RunControls:
    """Mixin for a panel with ``_run_button``, ``_cancel_button``, ``_progress``, ``_status``.

    The panel defines ``_on_progress``, ``_on_done`` and ``_on_finished``; its job has a
    ``cancelled`` flag the worker body checks.
    """

    _job: Any = None
    _worker: Any = None

    def _start(self, worker: Any, job: Any, status: str) -> Any:
        """Connect ``worker`` to the panel, switch the controls to running and start it."""
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_done)
        worker.finished.connect(self._on_finished)
        self._job, self._worker = job, worker
        self._run_button.enabled, self._cancel_button.enabled = False, True
        self._progress.visible, self._progress.value = True, 0
        self._status.value = status
        worker.start()
        return worker

    def _on_cancel(self, _value: Any = None) -> None:
        if self._worker is not None and self._job is not None:
            self._job.cancelled = True
            self._status.value = "cancelling..."
            self._worker.quit()

    def _stopped(self) -> None:
        """Forget the finished run and switch the controls back to idle."""
        self._worker, self._job = None, None
        self._run_button.enabled, self._cancel_button.enabled = True, False
        self._progress.visible = False
