"""Format detection and dispatch: each parser turns one file into statements, or refuses it."""

from __future__ import annotations

import re
from pathlib import Path

from bankfeeds.publish.model import MalformedFile, ParsedFile
from bankfeeds.publish.parsers import camt, csvfile, mt940, ofx
from bankfeeds.publish.parsers.csvfile import CsvOptions

FORMATS = ("camt", "mt940", "ofx", "csv")
__all__ = ["FORMATS", "CsvOptions", "detect", "parse_file"]


def detect(path: str | Path, head: bytes) -> str:
    """The format of a file from its first bytes (the extension only breaks a tie)."""
    text = head.decode("latin-1").lstrip("\ufeff\u00ef\u00bb\u00bf \t\r\n")
    lowered = text.lower()
    if "ofxheader" in lowered[:400] or lowered.startswith("<ofx>"):
        return "ofx"
    if text.startswith("<") and ("camt.05" in text or "<Document" in text or ":Document" in text):
        return "camt"
    if re.search(r"^(\{1:|:20:)", text, re.MULTILINE) and ":25:" in text:
        return "mt940"
    suffix = Path(path).suffix.lower()
    if suffix in (".ofx", ".qfx", ".qbo"):
        return "ofx"
    if suffix == ".xml":
        return "camt"
    if suffix in (".sta", ".mt940", ".940"):
        return "mt940"
    return "csv"


def parse_file(path: str | Path, fmt: str | None = None, csv_options: CsvOptions | None = None) -> ParsedFile:
    """Parse one statement file; raises MalformedFile naming the file, the line and what was expected."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise MalformedFile(str(path), "a readable file", found=exc.strerror or str(exc)) from None
    kind = fmt or detect(p, head)
    if kind == "camt":
        return camt.parse(p)
    if kind == "mt940":
        return mt940.parse(p)
    if kind == "ofx":
        return ofx.parse(p)
    if kind == "csv":
        return csvfile.parse(p, csv_options)
    raise MalformedFile(str(path), f"a format among {', '.join(FORMATS)}", found=kind)
