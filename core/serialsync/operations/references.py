"""What a person does with serial references beyond minting: export them as CSV, and print
labels (a PDF with a QR code or a Code 128 barcode per reference).

The labels are drawn by maintained libraries, never by hand-written encoders: ReportLab lays
out the PDF and encodes both symbologies (``reportlab.graphics.barcode``). They are in the
``labels`` extra (``pip install 'serialsync[labels]'``); without it, :func:`labels_pdf` says so.
"""

from __future__ import annotations

import csv
import io
from typing import Literal

from serialsync.errors import SerialsyncError
from serialsync.store import Reference

Symbology = Literal["qr", "code128"]

#: The columns of ``refs export``.
EXPORT_COLUMNS = ("reference", "group", "batch", "serial", "created_at")


class LabelsUnavailableError(SerialsyncError):
    """The ``labels`` extra is not installed."""


def export_csv(refs: list[Reference]) -> str:
    """The references as CSV text, one row each, with a header (:data:`EXPORT_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in refs:
        writer.writerow([r.ref, r.group, r.batch or "", r.serial or "", r.created_at.isoformat()])
    return out.getvalue()


def labels_pdf(refs: list[Reference], symbology: Symbology = "qr") -> bytes:
    """A PDF of labels, A4, a grid of one label per reference: the code, and the reference
    printed beneath it."""
    try:
        from reportlab.graphics import renderPDF
        from reportlab.graphics.barcode import createBarcodeDrawing
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm
        from reportlab.pdfgen import canvas
    except ImportError:
        raise LabelsUnavailableError(
            "printing labels needs the labels extra: pip install 'serialsync[labels]'"
        ) from None
    buffer = io.BytesIO()
    page_w, page_h = A4
    columns, rows = (3, 7) if symbology == "qr" else (2, 8)
    cell_w, cell_h = page_w / columns, page_h / rows
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setTitle("serialsync labels")
    for index, ref in enumerate(refs):
        slot = index % (columns * rows)
        if index and slot == 0:
            pdf.showPage()
        x = (slot % columns) * cell_w
        y = page_h - (slot // columns + 1) * cell_h
        if symbology == "qr":
            drawing = createBarcodeDrawing(  # type: ignore[no-untyped-call]
                "QR", value=ref.ref, width=28 * mm, height=28 * mm, barBorder=4
            )
        else:
            drawing = createBarcodeDrawing(  # type: ignore[no-untyped-call]
                "Code128", value=ref.ref, barHeight=16 * mm, barWidth=0.3 * mm, quiet=True
            )
        renderPDF.draw(drawing, pdf, x + (cell_w - drawing.width) / 2, y + 9 * mm)
        pdf.setFont("Courier", 8)
        pdf.drawCentredString(x + cell_w / 2, y + 5 * mm, ref.ref)
    pdf.save()
    return buffer.getvalue()
