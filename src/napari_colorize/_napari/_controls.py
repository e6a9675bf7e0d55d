"""Run / Cancel buttons, progress bar and status line of a panel that runs one worker at a time.

Worker signals can arrive after the viewer closed. Closing stops the run; from then on the
handlers touch neither the panel's widgets (Qt deletes them with the window) nor the viewer, and
the run's generator is closed, which discards its partial output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.utils.notifications import show_warning
from qtpy.QtCore import QEvent, QObject, QTimer

#: A run's progress bar appears once the run has lasted this long.
PROGRESS_DELAY_MS = 300


class _WindowWatch(QObject):
    """Event filter on the viewer's main window.

    A non-spontaneous Hide is the window closing (a minimised window gets a spontaneous one).
    """

    def __init__(self, on_hide: Callable[[], None], on_show: Callable[[], None],
                 parent: QObject) -> None:
        super().__init__(parent)
        self._on_hide, self._on_show = on_hide, on_show

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # Qt's name
        if event.type() == QEvent.Type.Hide and not event.spontaneous():
            self._on_hide()
        elif event.type() == QEvent.Type.Show:
            self._on_show()
        return False


class RunControls:
    """Mixin for a panel with ``_run_button``, ``_cancel_button``, ``_progress``, ``_status``.

    The panel defines ``_on_progress``, ``_on_done``, ``_on_finished`` and ``_describe`` (what
    the run does, for notifications); its job has a ``cancelled`` flag and a ``gen``.
    """

    _job: Any = None
    _worker: Any = None
    #: True while the viewer window is closing or closed: handlers leave widgets and viewer be.
    _closing = False
    _watch: Any = None
    #: The running worker's signals and the panel's slots on them, disconnected when it ends.
    _links: tuple[tuple[Any, Any], ...] = ()
    #: Why the run was stopped other than by Cancel ("" for Cancel).
    _stop_reason = ""

    def _start(self, worker: Any, job: Any, status: str) -> Any:
        """Connect ``worker`` to the panel, switch the controls to running and start it."""
        self._watch_window()
        self._links = ((worker.yielded, self._live(self._on_progress)),
                       (worker.returned, self._live(self._on_done)),
                       (worker.aborted, self._live(self._on_aborted)),
                       (worker.finished, self._finished))
        for signal, slot in self._links:
            signal.connect(slot)
        self._job, self._worker, self._stop_reason = job, worker, ""
        self._run_button.enabled, self._cancel_button.enabled = False, True
        self._progress.value = 0
        self._status.value = status
        # the bar shows only for runs that last: a sub-second preview would just flash it (and
        # repaint the panel while the run needs the CPU)
        QTimer.singleShot(PROGRESS_DELAY_MS, lambda: self._show_progress(worker))
        worker.start()
        return worker

    def _show_progress(self, worker: Any) -> None:
        if self._worker is worker and not self._closing and not getattr(self._job, "live", 0):
            self._progress.visible = True

    def _live(self, handler: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            if not self._closing:
                handler(*args)
        return call

    def _on_aborted(self) -> None:
        """Handle the worker stopping at a yield after Cancel (panels may clean up here)."""

    def _unlink(self) -> None:
        # napari's window keeps every worker it started (its task list holds worker.quit):
        # slots left connected would keep this panel, and its viewer, alive after a close
        for signal, slot in self._links:
            signal.disconnect(slot)
        self._links = ()

    def _finished(self) -> None:
        self._unlink()
        if not self._closing:
            self._on_finished()
            return
        gen = getattr(self._job, "gen", None)
        if gen is not None:
            gen.close()  # superqt does not close the generator: discard partial output here
        self._worker, self._job = None, None

    def _on_cancel(self, _value: Any = None) -> None:
        if self._worker is not None and self._job is not None:
            self._job.cancelled = True
            self._status.value = "cancelling..."
            self._worker.quit()

    def _stop(self, reason: str) -> bool:
        """Stop the run as Cancel does and say why in one notification; False if none runs."""
        job = self._job
        if self._worker is None or job is None or job.cancelled:
            return False
        job.cancelled = True
        self._worker.quit()
        self._stop_reason = reason
        # said once the event is over: viewer.close() removes the layers, then closes the window
        QTimer.singleShot(0, lambda: self._say_stopped(job))
        return True

    def _say_stopped(self, job: Any) -> None:
        reason = "the viewer was closed" if self._closing else self._stop_reason
        show_warning(f"{self._describe(job)} stopped: {reason}.")

    def _end_text(self) -> str:
        """Say in the status line why the run that ended early stopped."""
        return f"Stopped: {self._stop_reason}." if self._stop_reason else "Cancelled."

    def _stopped(self) -> None:
        """Forget the finished run and switch the controls back to idle."""
        self._worker, self._job = None, None
        self._run_button.enabled, self._cancel_button.enabled = True, False
        self._progress.visible = False

    # -- the viewer closing ----------------------------------------------------------------
    def _watch_window(self) -> None:
        """Follow the main window the panel is docked in (once, at the first run)."""
        if self._watch is not None:
            return
        from qtpy.QtWidgets import QMainWindow

        native = self.native  # type: ignore[attr-defined]
        top = native
        while top.parentWidget() is not None:
            top = top.parentWidget()
        self._watch = _WindowWatch(self._on_window_hidden, self._on_window_shown, native)
        if isinstance(top, QMainWindow):
            top.installEventFilter(self._watch)
        native.destroyed.connect(lambda *_: self._on_window_hidden())

    def _on_window_hidden(self) -> None:
        if self._closing:
            return
        self._stop("the viewer was closed")
        self._closing = True
        self._on_closing()

    def _on_closing(self) -> None:
        """Handle the window closing (its viewer still answers): panels drop partial layers."""

    def _on_window_shown(self) -> None:
        if self._closing and self._worker is None and self._job is None:
            self._stopped()  # a run stopped while hidden: controls back to idle
        self._closing = False
