"""File dialogs every panel uses, so they all behave alike."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QWidget


def ask_save_path(parent: QWidget, title: str, default_name: str, filters: str, suffix: str) -> str | None:
    """A save dialog whose typed name gets ``suffix`` (".png") before the dialog checks for an existing file,
    so "Replace g.png?" is asked when the user types "g". A path that still comes back without a suffix (a
    platform dialog that ignores the default) gets it here, with the same question if that file exists.
    None when cancelled."""
    dlg = QFileDialog(parent, title, default_name, filters)
    dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dlg.setDefaultSuffix(suffix.lstrip("."))
    if dlg.exec() != QDialog.DialogCode.Accepted or not dlg.selectedFiles():
        return None
    path = dlg.selectedFiles()[0]
    if not Path(path).suffix:
        path += suffix
        if Path(path).exists():
            answer = QMessageBox.question(parent, title, f"{Path(path).name} already exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return None
    return path
