"""PDF/A-3b output for ReportLab, which writes fast PDFs but no PDF/A of its own.

Why ReportLab and not WeasyPrint: an invoice must render in well under 40 ms (the
`invoice-pdf` benchmark); WeasyPrint 70 needs ~110 ms for the same two pages, ReportLab
about 10. What ISO 19005-3 level B asks of a file, and where this module does it:

- every font used is embedded: only the TrueType fonts registered here are used
  (DejaVu Sans from the system, else the Bitstream Vera that ships with ReportLab),
  embedded as subsets (symbolic TrueType, no /Encoding, one cmap subtable: 6.2.11.6);
  the canvas starts in that font, so Helvetica is never referenced. Characters a font
  lacks are printed as "?" (`printable`), since .notdef may not be shown (6.2.11.8);
- an sRGB OutputIntent (GTS_PDFA1) with the ICC profile sRGB2014.icc, so that the
  DeviceRGB and DeviceGray colours used are defined (6.2.4.3); no CMYK is used;
- XMP metadata (uncompressed) with pdfaid:part=3 and pdfaid:conformance=B, and an Info
  dictionary holding only entries with the same values in the XMP (6.6.2.3);
- a file identifier (/ID) in the trailer, no encryption, no transparency (images are
  flattened on white by the caller), no JavaScript, actions or annotations;
- every stream's data followed by an end-of-line marker before `endstream` (6.1.7.1):
  ReportLab writes `...dataendstream`, which `_stream_format_with_eol` fixes.
The resulting file is also what a Factur-X / ZUGFeRD writer needs to embed its XML into.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT = "SportelloSans"
FONT_BOLD = "SportelloSans-Bold"

# Where DejaVu lives on common systems; ReportLab's own Vera (DejaVu's ancestor, Latin-1
# only) is the fallback, so a machine without DejaVu still renders valid documents.
FONT_DIRECTORIES = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts/dejavu",
)
PRODUCER = "Sportello"
SRGB_PROFILE_NAME = "sRGB IEC61966-2.1"


# --- Streams end with an EOL before `endstream` ------------------------------------------------

_ENDSTREAM = b"endstream\n"


def _stream_format_with_eol(original: Callable[..., bytes]) -> Callable[..., bytes]:
    @functools.wraps(original)
    def format_stream(self: Any, document: Any) -> bytes:
        data = original(self, document)
        if data.endswith(_ENDSTREAM) and not data.endswith(b"\n" + _ENDSTREAM):
            # /Length already counts the data alone; the EOL belongs to the keyword (ISO 32000 7.3.8.1).
            data = data[: -len(_ENDSTREAM)] + b"\n" + _ENDSTREAM
        return data

    format_stream._sportello_eol = True  # type: ignore[attr-defined]
    return format_stream


if not getattr(pdfdoc.PDFStream.format, "_sportello_eol", False):
    pdfdoc.PDFStream.format = _stream_format_with_eol(pdfdoc.PDFStream.format)


# --- Fonts -------------------------------------------------------------------------------------


def _font_files() -> tuple[Path, Path]:
    configured = getattr(settings, "BILLING_PDF_FONT_DIR", "")
    directories = (configured, *FONT_DIRECTORIES) if configured else FONT_DIRECTORIES
    for directory in directories:
        regular, bold = Path(directory) / "DejaVuSans.ttf", Path(directory) / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    bundled = Path(str(resources.files("reportlab") / "fonts"))
    return bundled / "Vera.ttf", bundled / "VeraBd.ttf"


@functools.cache
def fonts_register() -> frozenset[int]:
    """Register the document fonts once per process; return the code points both cover."""
    regular, bold = _font_files()
    pdfmetrics.registerFont(TTFont(FONT, str(regular)))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold)))
    # Paragraph markup (<b>) and bold styles look the family up: no italic face is embedded.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
    pdfmetrics.registerFontFamily(FONT_BOLD, normal=FONT_BOLD, bold=FONT_BOLD, italic=FONT_BOLD, boldItalic=FONT_BOLD)
    covered: frozenset[int] | None = None
    for name in (FONT, FONT_BOLD):
        face = pdfmetrics.getFont(name).face
        chars = frozenset(code for code, glyph in face.charToGlyph.items() if glyph)
        covered = chars if covered is None else covered & chars
    return covered or frozenset()


def printable(text: str) -> str:
    """`text` with characters the fonts cannot draw replaced by "?" (never a .notdef glyph)."""
    if text.isascii() and text.isprintable():
        return text
    covered = fonts_register()
    if all(ord(c) in covered or c == "\n" for c in text):
        return text
    return "".join(c if ord(c) in covered or c == "\n" else "?" for c in text)


# --- Metadata ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfMetadata:
    title: str
    author: str
    subject: str
    language: str
    created: dt.datetime
    # Distinguishes two files with the same title and time in the /ID.
    identity: str = ""


def _pdf_date(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


def _xmp_date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def xmp_packet(meta: PdfMetadata) -> bytes:
    """The XMP metadata packet: PDF/A-3B identification plus the Info entries' equivalents."""
    created = _xmp_date(meta.created)
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>3</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(meta.title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{escape(meta.author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(meta.subject)}</rdf:li></rdf:Alt></dc:description>
   <dc:language><rdf:Bag><rdf:li>{escape(meta.language)}</rdf:li></rdf:Bag></dc:language>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreatorTool>{PRODUCER}</xmp:CreatorTool>
   <xmp:CreateDate>{created}</xmp:CreateDate>
   <xmp:ModifyDate>{created}</xmp:ModifyDate>
   <xmp:MetadataDate>{created}</xmp:MetadataDate>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdf:Producer>{PRODUCER}</pdf:Producer>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return packet.encode("utf-8")


class _PdfAInfo(pdfdoc.PDFInfo):
    """The Info dictionary with exactly the entries the XMP packet repeats (6.6.2.3)."""

    def __init__(self, meta: PdfMetadata) -> None:
        super().__init__()
        self.meta = meta
        self.title, self.author, self.subject = meta.title, meta.author, meta.subject

    def format(self, document: Any) -> bytes:
        date = pdfdoc.PDFString(_pdf_date(self.meta.created))
        entries = {
            "Title": pdfdoc.PDFString(self.meta.title),
            "Author": pdfdoc.PDFString(self.meta.author),
            "Subject": pdfdoc.PDFString(self.meta.subject),
            "Creator": pdfdoc.PDFString(PRODUCER),
            "Producer": pdfdoc.PDFString(PRODUCER),
            "CreationDate": date,
            "ModDate": date,
        }
        return bytes(pdfdoc.PDFDictionary(entries).format(document))


class _UncompressedStream(pdfdoc.PDFStream):
    """A stream written as is, with no /Filter key: the XMP packet stays readable by tools
    that scan files for it (and PDF/A-1 readers require it so)."""

    def format(self, document: Any) -> bytes:
        dictionary = pdfdoc.PDFDictionary(self.dictionary.dict.copy())
        dictionary["Length"] = len(self.content)
        return bytes(pdfdoc.format(dictionary, document)) + b"\nstream\n" + self.content + b"\nendstream\n"


@functools.cache
def srgb_profile() -> bytes:
    return (resources.files("sportello.billing") / "assets" / "sRGB2014.icc").read_bytes()


def _catalog_with_pdfa(document: Any, meta: PdfMetadata) -> None:
    metadata = _UncompressedStream(
        pdfdoc.PDFDictionary({"Type": pdfdoc.PDFName("Metadata"), "Subtype": pdfdoc.PDFName("XML")}),
        xmp_packet(meta),
    )
    profile = pdfdoc.PDFStream(pdfdoc.PDFDictionary({"N": 3}), srgb_profile(), filters=[pdfdoc.PDFZCompress])
    intent = pdfdoc.PDFDictionary(
        {
            "Type": pdfdoc.PDFName("OutputIntent"),
            "S": pdfdoc.PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": pdfdoc.PDFString(SRGB_PROFILE_NAME),
            "Info": pdfdoc.PDFString(SRGB_PROFILE_NAME),
            "RegistryName": pdfdoc.PDFString("http://www.color.org"),
            "DestOutputProfile": document.Reference(profile),
        }
    )
    catalog = document.Catalog
    catalog.Metadata = metadata
    catalog.OutputIntents = pdfdoc.PDFArray([document.Reference(intent)])
    # OutputIntents is not among the catalog keys ReportLab knows; declared here for this file only.
    catalog.__NoDefault__ = [*pdfdoc.PDFCatalog.__NoDefault__, "OutputIntents"]
    document.info = _PdfAInfo(meta)
    identifier = hashlib.sha256(f"{meta.identity}\n{meta.title}\n{meta.created.isoformat()}".encode()).hexdigest()[:32]
    document._ID = f"\n[<{identifier}><{identifier}>]\n".encode("ascii")


class PdfACanvas(Canvas):
    """A ReportLab canvas that writes PDF/A-3b and numbers its pages "Page X of Y".

    Pages are kept until `save`, when the total is known; `page_label(page, pages)` draws
    the footer of each (set by the document template).
    """

    def __init__(self, *args: Any, meta: PdfMetadata, page_footer: Callable[[Canvas, int, int], None], **kwargs: Any):
        fonts_register()
        # platypus passes initialFontName=None; ReportLab would then start in (unembedded) Helvetica.
        kwargs["initialFontName"] = kwargs.get("initialFontName") or FONT
        kwargs["pageCompression"] = 1
        # PDF/A-3 is built on PDF 1.7 (ISO 32000-1), which also holds the attachments of e-invoices.
        kwargs["pdfVersion"] = (1, 7)
        kwargs["lang"] = meta.language
        super().__init__(*args, **kwargs)
        self._pdfa_meta = meta
        self._page_footer = page_footer
        self._page_states: list[dict[str, Any]] = []
        self.setTitle(meta.title)
        self.setAuthor(meta.author)
        self.setSubject(meta.subject)
        self.setCreator(PRODUCER)
        self.setProducer(PRODUCER)

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._page_states)
        for number, state in enumerate(self._page_states, start=1):
            self.__dict__.update(state)
            self._page_footer(self, number, pages)
            Canvas.showPage(self)
        _catalog_with_pdfa(self._doc, self._pdfa_meta)
        Canvas.save(self)


def canvas_maker(meta: PdfMetadata, page_footer: Callable[[Canvas, int, int], None]) -> Callable[..., PdfACanvas]:
    """What platypus' `build(canvasmaker=...)` takes: a PdfACanvas for this document."""
    return functools.partial(PdfACanvas, meta=meta, page_footer=page_footer)
