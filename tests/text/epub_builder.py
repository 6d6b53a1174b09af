"""Real-structure EPUB files for tests, written with zipfile.

`write_epub(path)` writes a complete EPUB 2 + 3 book: mimetype first and
stored, META-INF/container.xml, OEBPS/content.opf (metadata, manifest,
spine, EPUB 2 guide), a navigation document in its own folder (links are
`../Text/chapter%201.xhtml#start`), an NCX, a cover image and cover page, a
table-of-contents page, a copyright page and the prose chapters, whose file
names hold a space (`Text/chapter 1.xhtml`). The first chapter also carries
an image with alt text, a script, a style and a footnote, none of which is
prose.

Variants: `epub2=False` (no NCX, no guide, no <meta name="cover">),
`epub3=False` (no nav document, no epub:type, version 2.0), `edit=` to
change any file before writing (hostile documents, missing files), and
`Raw(...)` for markup written as is (entity references).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

BOOK_TITLE = "The Salt Road"
AUTHOR = "Mara Quill"

# Ordinary prose, written for these tests.
DEFAULT_CHAPTERS: list[tuple[str, list[str]]] = [
    ("The Harbour at Dawn", [
        "The boats came in before the sun, low in the water and loud with gulls. "
        "Tomas counted them from the sea wall, as his father had taught him, and "
        "wrote the number on the back of his hand.",
        "By the time the market opened the fish were already sorted into crates of "
        "ice. Nobody asked him for the count any more, but he kept it all the same.",
        "His aunt said that a habit kept for no reason was still a kind of promise.",
    ]),
    ("A Letter from the Hills", [
        "The letter had travelled for three weeks and smelled of woodsmoke. It was "
        "written in pencil, pressed so hard that the words stood up from the page.",
        "It asked for salt, two sacks of it, and for someone who could read the old "
        "road maps. Tomas read it twice and then went to find his aunt.",
    ]),
    ("The Road Inland", [
        "They left on a grey morning with a borrowed mule and more advice than "
        "either of them wanted. The road climbed through orchards, then through "
        "nothing at all.",
        "On the second night they slept in a shepherd's hut with a roof of turf. "
        "The wind found every gap in the walls and whistled through it.",
        "In the morning the valley below was full of cloud, white and still, like "
        "milk poured into a bowl.",
    ]),
    ("What the Village Needed", [
        "The village was smaller than the letter had made it sound. Eleven houses, "
        "a chapel with no bell, and a well that tasted faintly of iron.",
        "They unloaded the salt in the square while children watched from doorways. "
        "An old woman thanked them in a dialect Tomas could barely follow.",
        "That evening she unrolled a map older than anyone living, and showed them "
        "where the road had once gone on, all the way to the other sea.",
    ]),
]

_XHTML = "http://www.w3.org/1999/xhtml"
_EPUB3_DOCTYPE = "<!DOCTYPE html>"
_EPUB2_DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
    '"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">'
)
STYLE = "p { text-indent: 1em; } /* style text, never spoken */"
SCRIPT = "console.log('script text, never spoken');"
ALT_TEXT = "alt text of the harbour picture, never spoken"
FOOTNOTE = "Footnote text, never spoken: sea walls were rebuilt in 1910."


class Raw(str):
    """Markup written into a document as is (not escaped)."""


def chapter_path(number: int) -> str:
    """The zip path of prose chapter `number` (1-based); note the space."""
    return f"OEBPS/Text/chapter {number}.xhtml"


def chapter_href(number: int) -> str:
    """The same file as a URL, relative to the OPF: the space %-encoded."""
    return f"Text/chapter%20{number}.xhtml"


def tiny_png() -> bytes:
    """A real 2x2 RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + bytes([200, 120, 40]) * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def _text(value: str) -> str:
    return value if isinstance(value, Raw) else escape(value, quote=False)


def xhtml(body: str, *, title: str = BOOK_TITLE, epub3: bool = True, head: str = "",
          doctype: str | None = None) -> bytes:
    """A complete XHTML content document around `body` markup."""
    doctype = doctype if doctype is not None else (_EPUB3_DOCTYPE if epub3 else _EPUB2_DOCTYPE)
    epub_ns = ' xmlns:epub="http://www.idpf.org/2007/ops"' if epub3 else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f"{doctype}\n"
        f'<html xmlns="{_XHTML}"{epub_ns} xml:lang="en" lang="en">\n'
        f"<head><title>{_text(title)}</title>{head}</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def _type(value: str, epub3: bool) -> str:
    return f' epub:type="{value}"' if epub3 else ""


def chapter_xhtml(title: str, paragraphs: Sequence[str], *, epub3: bool = True, extras: bool = False,
                  book_title: str = BOOK_TITLE, doctype: str | None = None) -> bytes:
    """A prose chapter: <h1 id="start">, then one <p> per paragraph."""
    parts = [f'<h1 id="start">{_text(title)}</h1>']
    parts += [f"<p>{_text(paragraph)}</p>" for paragraph in paragraphs]
    head = '<link rel="stylesheet" type="text/css" href="../Styles/book.css"/>'
    if extras:
        head += f"<style>{STYLE}</style>"
        note = "fn1"
        parts.insert(2, f'<p><img src="../Images/cover.png" alt="{ALT_TEXT}"/></p>')
        parts.insert(2, f"<script>{SCRIPT}</script>")
        parts.append(
            f'<p>The sea wall was older than the town<a{_type("noteref", epub3)} href="#{note}">'
            "<sup>1</sup></a>.</p>"
        )
        parts.append(
            f'<aside{_type("footnote", epub3)} role="doc-footnote" id="{note}"><p>{FOOTNOTE}</p></aside>')
    body = f'<section{_type("bodymatter chapter", epub3)}>\n' + "\n".join(parts) + "\n</section>"
    return xhtml(body, title=book_title, epub3=epub3, head=head, doctype=doctype)


def build_files(
    chapters: Sequence[tuple[str, Sequence[str]]] | None = None,
    *,
    title: str = BOOK_TITLE,
    authors: Sequence[str] = (AUTHOR,),
    illustrators: Sequence[str] = (),
    language: str = "en",
    epub2: bool = True,
    epub3: bool = True,
    nav_labels: Sequence[str] | None = None,
    nav_in_spine: bool = False,
    cover: bool = True,
    extras: bool = True,
) -> dict[str, bytes]:
    """Every file of the EPUB, zip path -> bytes, in writing order."""
    chapters = DEFAULT_CHAPTERS if chapters is None else chapters
    labels = list(nav_labels) if nav_labels is not None else [t for t, _ in chapters]
    files: dict[str, bytes] = {"mimetype": b"application/epub+zip"}
    files["META-INF/container.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        b'<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        b"</rootfiles></container>\n"
    )
    files["OEBPS/content.opf"] = _opf(chapters, title, authors, illustrators, language, epub2, epub3,
                                      nav_in_spine, cover, extras)
    if cover:
        files["OEBPS/Images/cover.png"] = tiny_png()
        files["OEBPS/Text/cover.xhtml"] = xhtml(
            f'<div{_type("cover", epub3)}><img src="../Images/cover.png" alt="Cover"/></div>',
            title="Cover", epub3=epub3)
    files["OEBPS/Styles/book.css"] = STYLE.encode()
    files["OEBPS/Text/contents.xhtml"] = xhtml(
        f'<section{_type("frontmatter toc", epub3)}><h1>Contents</h1><ol>'
        + "".join(f'<li><a href="chapter%20{n}.xhtml#start">{_text(label)}</a></li>'
                  for n, label in enumerate(labels, 1))
        + "</ol></section>", title="Contents", epub3=epub3)
    files["OEBPS/Text/copyright.xhtml"] = xhtml(
        f'<section{_type("frontmatter copyright-page", epub3)}>'
        f"<p>Copyright 2024 {_text(', '.join(authors))}. All rights reserved.</p>"
        "<p>No part of this book may be reproduced without permission.</p></section>",
        title="Copyright", epub3=epub3)
    for number, (chapter_title, paragraphs) in enumerate(chapters, 1):
        files[chapter_path(number)] = chapter_xhtml(
            chapter_title, paragraphs, epub3=epub3, extras=extras and number == 1, book_title=title)
    if epub3:
        files["OEBPS/Nav/nav.xhtml"] = _nav(labels, cover)
    if epub2:
        files["OEBPS/toc.ncx"] = _ncx(labels, title)
    return files


def _opf(chapters, title, authors, illustrators, language, epub2, epub3, nav_in_spine, cover,
         extras) -> bytes:
    creators = []
    people = [(a, "aut") for a in authors] + [(i, "ill") for i in illustrators]
    for number, (name, role) in enumerate(people, 1):
        if epub3:
            creators.append(f'<dc:creator id="creator{number}">{_text(name)}</dc:creator>'
                            f'<meta refines="#creator{number}" property="role" scheme="marc:relators">'
                            f"{role}</meta>")
        else:
            creators.append(f'<dc:creator opf:role="{role}">{_text(name)}</dc:creator>')
    metadata = [
        '<dc:identifier id="bookid">urn:uuid:5f1c2a8e-0000-4000-8000-000000000001</dc:identifier>',
        f"<dc:title>{_text(title)}</dc:title>", *creators, f"<dc:language>{language}</dc:language>",
    ]
    if epub3:
        metadata.append('<meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>')
    if epub2 and cover:
        metadata.append('<meta name="cover" content="cover-image"/>')
    items = ['<item id="css" href="Styles/book.css" media-type="text/css"/>']
    spine = []
    if cover:
        props = ' properties="cover-image"' if epub3 else ""
        items.append(f'<item id="cover-image" href="Images/cover.png" media-type="image/png"{props}/>')
        items.append('<item id="cover" href="Text/cover.xhtml" media-type="application/xhtml+xml"/>')
        spine.append("cover")
    if epub3:
        items.append(
            '<item id="nav" href="Nav/nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>')
        if nav_in_spine:
            spine.append("nav")
    if epub2:
        items.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
    items.append('<item id="contents" href="Text/contents.xhtml" media-type="application/xhtml+xml"/>')
    items.append('<item id="copyright" href="Text/copyright.xhtml" media-type="application/xhtml+xml"/>')
    spine += ["contents", "copyright"]
    for number in range(1, len(chapters) + 1):
        # Chapter 1's extras hold a script: EPUB 3 asks the package to say so.
        scripted = ' properties="scripted"' if epub3 and extras and number == 1 else ""
        items.append(f'<item id="chapter{number}" href="{chapter_href(number)}" '
                     f'media-type="application/xhtml+xml"{scripted}/>')
        spine.append(f"chapter{number}")
    toc = ' toc="ncx"' if epub2 else ""
    guide = ""
    if epub2:
        refs = [("toc", "Contents", "Text/contents.xhtml"),
                ("copyright-page", "Copyright", "Text/copyright.xhtml"),
                ("text", "Start", chapter_href(1) + "#start")]
        if cover:
            refs.insert(0, ("cover", "Cover", "Text/cover.xhtml"))
        references = "".join(f'<reference type="{t}" title="{n}" href="{h}"/>' for t, n, h in refs)
        guide = f"<guide>{references}</guide>"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<package xmlns="http://www.idpf.org/2007/opf" version="{"3.0" if epub3 else "2.0"}" '
        'unique-identifier="bookid">\n'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">\n'
        + "\n".join(metadata) + "\n</metadata>\n"
        "<manifest>\n" + "\n".join(items) + "\n</manifest>\n"
        f"<spine{toc}>\n" + "\n".join(f'<itemref idref="{i}"/>' for i in spine) + "\n</spine>\n"
        f"{guide}\n</package>\n"
    ).encode("utf-8")


def _nav(labels: Sequence[str], cover: bool) -> bytes:
    links = "".join(
        f'<li><a href="../Text/chapter%20{n}.xhtml#start">{_text(label)}</a></li>'
        for n, label in enumerate(labels, 1))
    landmarks = [("toc", "Contents", "../Text/contents.xhtml"),
                 ("copyright-page", "Copyright", "../Text/copyright.xhtml"),
                 ("bodymatter", "Start", "../Text/chapter%201.xhtml#start")]
    if cover:
        landmarks.insert(0, ("cover", "Cover", "../Text/cover.xhtml"))
    body = (
        '<nav epub:type="toc" id="toc"><h1>Contents</h1><ol>'
        '<li><a href="../Text/contents.xhtml">Contents</a></li>'
        '<li><a href="../Text/copyright.xhtml">Copyright</a></li>'
        f"{links}</ol></nav>\n"
        '<nav epub:type="landmarks" hidden=""><ol>'
        + "".join(f'<li><a epub:type="{t}" href="{h}">{n}</a></li>' for t, n, h in landmarks)
        + "</ol></nav>"
    )
    return xhtml(body, title="Contents")


def _ncx(labels: Sequence[str], title: str) -> bytes:
    points = [("Contents", "Text/contents.xhtml"), ("Copyright", "Text/copyright.xhtml")]
    points += [(label, f"{chapter_href(n)}#start") for n, label in enumerate(labels, 1)]
    navpoints = "".join(
        f'<navPoint id="p{n}" playOrder="{n}"><navLabel><text>{_text(label)}</text></navLabel>'
        f'<content src="{src}"/></navPoint>'
        for n, (label, src) in enumerate(points, 1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
        '<head><meta name="dtb:uid" content="urn:uuid:5f1c2a8e-0000-4000-8000-000000000001"/></head>'
        f"<docTitle><text>{_text(title)}</text></docTitle><navMap>{navpoints}</navMap></ncx>\n"
    ).encode()


# --- a book laid out by another producer ----------------------------------

_ELSEWHERE_XML = "<?xml version='1.0' encoding='utf-8'?>\n"
_ELSEWHERE_HTML = (
    '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"{prefix} lang="nl" '
    'xml:lang="nl">\n  <head>\n    <title>{title}</title>\n  </head>\n  <body>\n{body}\n  </body>\n</html>\n'
)


def elsewhere_files() -> dict[str, bytes]:
    """The files another Python EPUB library writes for a two-chapter Dutch
    book, as it lays them out: everything under EPUB/, unencoded spaces in
    the manifest's hrefs ("part 1.xhtml"), %-encoded ones in the nav and
    NCX, a nav headed with the book title and listed first in the spine,
    no epub:type on the pages."""
    def page(title: str, body: str, prefix: str = "") -> bytes:
        return (_ELSEWHERE_XML + "<!DOCTYPE html>\n" + _ELSEWHERE_HTML.format(
            prefix=prefix, title=title, body=body)).encode()

    chapter_prefix = ' epub:prefix="z3998: http://www.daisy.org/z3998/2012/vocab/structure/#"'
    files: dict[str, bytes] = {"mimetype": b"application/epub+zip"}
    files["META-INF/container.xml"] = (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0">\n  <rootfiles>\n'
        b'    <rootfile media-type="application/oebps-package+xml" full-path="EPUB/content.opf"/>\n'
        b"  </rootfiles>\n</container>\n")
    files["EPUB/content.opf"] = (
        _ELSEWHERE_XML
        + '<package xmlns="http://www.idpf.org/2007/opf" unique-identifier="id" version="3.0" '
        'prefix="rendition: http://www.idpf.org/vocab/rendition/#">\n'
        '  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">\n'
        '    <meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>\n'
        '    <meta name="generator" content="Ebook-lib 0.20.0"/>\n'
        '    <dc:identifier id="id">id-1</dc:identifier>\n'
        "    <dc:title>Written Elsewhere</dc:title>\n"
        "    <dc:language>nl</dc:language>\n"
        '    <dc:creator id="creator">Dee Vries</dc:creator>\n'
        "  </metadata>\n  <manifest>\n"
        '    <item href="part 1.xhtml" id="chapter_0" media-type="application/xhtml+xml"/>\n'
        '    <item href="part 2.xhtml" id="chapter_1" media-type="application/xhtml+xml"/>\n'
        '    <item href="toc.ncx" id="ncx" media-type="application/x-dtbncx+xml"/>\n'
        '    <item href="nav.xhtml" id="nav" media-type="application/xhtml+xml" properties="nav"/>\n'
        '  </manifest>\n  <spine toc="ncx">\n'
        '    <itemref idref="nav"/>\n    <itemref idref="chapter_0"/>\n    <itemref idref="chapter_1"/>\n'
        "  </spine>\n</package>\n").encode()
    for number, (title, paragraphs) in enumerate(DEFAULT_CHAPTERS[:2], 1):
        body = f"    <h1>{title}</h1>\n" + "\n".join(f"    <p>{paragraph}</p>" for paragraph in paragraphs)
        files[f"EPUB/part {number}.xhtml"] = page(title, body, chapter_prefix)
    points = "\n".join(
        f'    <navPoint id="l{n}">\n      <navLabel>\n        <text>Nav {n}</text>\n      </navLabel>\n'
        f'      <content src="part%20{n}.xhtml"/>\n    </navPoint>' for n in (1, 2))
    files["EPUB/toc.ncx"] = (
        _ELSEWHERE_XML + '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">\n  <head>\n'
        '    <meta content="id-1" name="dtb:uid"/>\n    <meta content="0" name="dtb:depth"/>\n'
        '    <meta content="0" name="dtb:totalPageCount"/>\n'
        '    <meta content="0" name="dtb:maxPageNumber"/>\n'
        "  </head>\n  <docTitle>\n    <text>Written Elsewhere</text>\n  </docTitle>\n"
        f"  <navMap>\n{points}\n  </navMap>\n</ncx>\n").encode()
    links = "\n".join(
        f'        <li>\n          <a href="part%20{n}.xhtml">Nav {n}</a>\n        </li>' for n in (1, 2))
    files["EPUB/nav.xhtml"] = page("Written Elsewhere", (
        '    <nav epub:type="toc" id="id" role="doc-toc">\n      <h2>Written Elsewhere</h2>\n'
        f"      <ol>\n{links}\n      </ol>\n    </nav>"))
    return files


def write_files(path: Path, files: dict[str, bytes], stored: Sequence[str] = ()) -> Path:
    """Zip `files` as an EPUB: mimetype (and `stored`) stored, the rest deflated."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            method = zipfile.ZIP_STORED if name == "mimetype" or name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return path


def write_epub(
    path: Path,
    chapters: Sequence[tuple[str, Sequence[str]]] | None = None,
    *,
    edit: Callable[[dict[str, bytes]], None] | None = None,
    **options,
) -> Path:
    """Write an EPUB to `path` and return it. `chapters` is [(title, [paragraph, ...])]
    (default: a four-chapter story); `options` go to `build_files`; `edit`
    may change the files (zip path -> bytes) before they are written."""
    files = build_files(chapters, **options)
    if edit is not None:
        edit(files)
    return write_files(path, files)


def with_doctype(document: bytes, doctype: str) -> bytes:
    """`document` with its DOCTYPE (if any) replaced by `doctype`, placed after
    the XML declaration."""
    text = document.decode("utf-8")
    lines = [line for line in text.split("\n") if not line.startswith("<!DOCTYPE")]
    if lines[0].startswith("<?xml"):
        return "\n".join([lines[0], doctype, *lines[1:]]).encode("utf-8")
    return "\n".join([doctype, *lines]).encode("utf-8")


# --- zip bombs ------------------------------------------------------------

_MIB = 1 << 20


def deflated_zeros(mebibytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mebibytes` MiB of zero bytes, and their CRC-32.

    Built in milliseconds and bounded memory: after a full flush deflate
    starts afresh, so each further MiB compresses to the same bytes.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(_MIB)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = first + again * (mebibytes - 1) + compressor.flush()
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    return stream, crc


def write_zip_bomb(path: Path, member: str, mebibytes: int, declared: int | None = None,
                   crc: int | None = None) -> Path:
    """The default EPUB, with `member` replaced by `mebibytes` MiB of zeros,
    deflated. `declared` and `crc` make the headers lie about its size."""
    stream, real_crc = deflated_zeros(mebibytes)
    files = build_files()
    files[member] = stream
    write_files(path, files, stored=[member])
    data = bytearray(Path(path).read_bytes())
    size = mebibytes * _MIB if declared is None else declared
    _patch_entry(data, member.encode(), zipfile.ZIP_DEFLATED, real_crc if crc is None else crc, size)
    Path(path).write_bytes(bytes(data))
    return Path(path)


def _patch_entry(data: bytearray, name: bytes, method: int, crc: int, size: int) -> None:
    """Rewrite an entry's method, CRC and uncompressed size in both its local
    header and its central-directory record (it was written stored)."""
    for signature, method_at, crc_at, size_at, name_at in ((b"PK\x03\x04", 8, 14, 22, 30),
                                                           (b"PK\x01\x02", 10, 16, 24, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at : start + name_at + len(name)] == name:
                struct.pack_into("<H", data, start + method_at, method)
                struct.pack_into("<I", data, start + crc_at, crc)
                struct.pack_into("<I", data, start + size_at, size)
                break
            start += 4
