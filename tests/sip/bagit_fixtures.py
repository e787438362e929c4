"""Bags for the BagIt validator's tests, built in ``tmp_path`` and then damaged on purpose.

Every bag starts as a valid bag made by bagit-python's ``make_bag`` on a *copy* of a source folder
(``make_bag`` converts a folder in place). A fixture is then a mutation: a function that damages
the bag in exactly one way. ``BAD`` names each mutation by the error code it must raise and
``WARN`` by the warning it must raise while the bag stays valid (ocfl-py's ``extra_fixtures``
style: the code is the fixture's name).
"""

from __future__ import annotations

import codecs
import hashlib
import os
import shutil
import stat
import unicodedata
from collections.abc import Callable
from pathlib import Path

import bagit

NFC_NAME = unicodedata.normalize("NFC", "Tờ trình số 05.pdf")
NFD_NAME = unicodedata.normalize("NFD", "Biên bản bàn giao.txt")
assert unicodedata.normalize("NFD", NFC_NAME) != NFC_NAME
assert unicodedata.normalize("NFC", NFD_NAME) != NFD_NAME

#: The payload of the standard test bag (paths relative to data/): Vietnamese names in NFC and
#: NFD, a sub-folder, an empty file.
FILES: dict[str, bytes] = {
    "a.txt": b"hello\n",
    NFC_NAME: b"%PDF-1.4\n% fake but harmless\n",
    f"Hồ sơ 01/{NFD_NAME}": "Biên bản bàn giao tài liệu.\n".encode(),
    "empty.dat": b"",
}


def build(tmp_path: Path, fixture: Fixture) -> Path:
    """The standard bag (or the fixture's own payload) with the fixture's mutation applied."""
    files, mutate = fixture if isinstance(fixture, tuple) else (None, fixture)
    bag = make_test_bag(tmp_path, files)
    mutate(bag)
    return bag


def make_test_bag(tmp_path: Path, files: dict[str, bytes] | None = None, *,
                  checksums: tuple[str, ...] = ("sha256",), version: str | None = None,
                  name: str = "bag", info: dict[str, str] | None = None) -> Path:
    """A valid bag at ``tmp_path / name``, made by ``make_bag`` on a copy of a source folder."""
    source = tmp_path / f"{name}-source"
    for rel, data in (FILES if files is None else files).items():
        path = source / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    source.mkdir(exist_ok=True)
    bag = tmp_path / name
    shutil.copytree(source, bag)
    bagit.make_bag(str(bag), info or {"Source-Organization": "Văn phòng UBND tỉnh (test)"},
                   checksums=list(checksums))
    if version is not None:
        set_version(bag, version)
    return bag


# --- small editing helpers ------------------------------------------------------------------------

def digest(path: Path, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def tag_encoding(bag: Path) -> str:
    """The Tag-File-Character-Encoding bagit.txt declares (UTF-8 if it cannot be read)."""
    try:
        text = (bag / "bagit.txt").read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return "utf-8"
    for line in text.splitlines():
        if line.startswith("Tag-File-Character-Encoding: "):
            encoding = line.split(": ", 1)[1].strip()
            try:
                info = codecs.lookup(encoding)
            except LookupError:
                return "utf-8"
            return info.name if getattr(info, "_is_text_encoding", True) else "utf-8"
    return "utf-8"


def rewrite_tagmanifests(bag: Path) -> None:
    """Recompute every tagmanifest for the top-level tag files now present (after an edit)."""
    for tagmanifest in bag.glob("tagmanifest-*.txt"):
        algorithm = tagmanifest.name[len("tagmanifest-"):-len(".txt")]
        names = sorted(p.name for p in bag.iterdir()
                       if p.is_file() and not p.name.startswith("tagmanifest-"))
        text = "".join(f"{digest(bag / n, algorithm)}  {n}\n" for n in names)
        tagmanifest.write_bytes(text.encode(tag_encoding(bag)))


def set_version(bag: Path, version: str, encoding: str = "UTF-8") -> None:
    (bag / "bagit.txt").write_text(
        f"BagIt-Version: {version}\nTag-File-Character-Encoding: {encoding}\n", encoding="utf-8")
    rewrite_tagmanifests(bag)


def write_tag(bag: Path, name: str, data: bytes | str) -> None:
    """Write a tag file, then make the tag manifests agree with it."""
    (bag / name).write_bytes(data.encode() if isinstance(data, str) else data)
    rewrite_tagmanifests(bag)


def append_tag(bag: Path, name: str, data: bytes | str) -> None:
    old = (bag / name).read_bytes() if (bag / name).exists() else b""
    write_tag(bag, name, old + (data.encode() if isinstance(data, str) else data))


def append_raw(bag: Path, name: str, text: str) -> None:
    """Append to a tag file without touching the tag manifests (to damage a tag manifest)."""
    with (bag / name).open("a", encoding="utf-8") as f:
        f.write(text)


def manifest_line(bag: Path, rel: str, algorithm: str = "sha256") -> str:
    return f"{digest(bag / rel, algorithm)}  {rel}\n"


def edit_info(bag: Path, old: str, new: str) -> None:
    text = (bag / "bag-info.txt").read_text(encoding="utf-8")
    assert old in text, (old, text)
    write_tag(bag, "bag-info.txt", text.replace(old, new))


def oxum(bag: Path) -> str:
    files = [p for p in (bag / "data").rglob("*") if p.is_file() and not p.is_symlink()]
    return f"{sum(p.stat().st_size for p in files)}.{len(files)}"


def fix_oxum(bag: Path) -> None:
    """Make Payload-Oxum agree with the payload after files were added or removed."""
    lines = (bag / "bag-info.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [f"Payload-Oxum: {oxum(bag)}\n" if line.startswith("Payload-Oxum:") else line
             for line in lines]
    write_tag(bag, "bag-info.txt", "".join(lines))


def add_payload(bag: Path, rel: str, data: bytes, *, listed: bool = True) -> None:
    """Add a payload file after bagging; list it in the sha256 manifest unless told not to."""
    path = bag / "data" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if listed:
        for manifest in bag.glob("manifest-*.txt"):
            algorithm = manifest.name[len("manifest-"):-len(".txt")]
            with manifest.open("a", encoding="utf-8") as f:
                f.write(manifest_line(bag, f"data/{rel}", algorithm))
    fix_oxum(bag)


def tree_state(root: Path) -> dict[str, tuple[str, ...]]:
    """Everything about a tree that validation must not change; never follows links or FIFOs."""
    out: dict[str, tuple[str, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", oct(st.st_mode), str(st.st_mtime_ns), digest(path))
            else:
                out[rel] = ("other", oct(st.st_mode), str(st.st_mtime_ns))
    return out


# --- the mutations ---------------------------------------------------------------------------

Mutation = Callable[[Path], None]
#: A mutation, or (the payload of the base bag, a mutation) when the standard payload won't do.
Fixture = Mutation | tuple[dict[str, bytes], Mutation]


def _bagit_txt(data: bytes) -> Mutation:
    return lambda bag: write_tag(bag, "bagit.txt", data)


def _manifest_append(line: str | bytes) -> Mutation:
    return lambda bag: append_tag(bag, "manifest-sha256.txt", line)


HASH = "0" * 64


def _ext_change_content(bag: Path) -> None:
    path = bag / "data" / "a.txt"
    path.write_bytes(b"HELLO\n")  # same size, so Payload-Oxum still agrees


def _rename(old: str, new: str) -> Mutation:
    return lambda bag: (bag / "data" / old).rename(bag / "data" / new)


def _drop_manifest_line(name: str, rel: str) -> Mutation:
    def mutate(bag: Path) -> None:
        lines = (bag / name).read_text(encoding="utf-8").splitlines(keepends=True)
        write_tag(bag, name, "".join(line for line in lines if not line.rstrip().endswith(rel)))
    return mutate


def _incomplete_1_0(bag: Path) -> None:
    add_manifest(bag, "sha512")
    set_version(bag, "1.0")
    _drop_manifest_line("manifest-sha512.txt", "data/a.txt")(bag)


def _incomplete_0_97(bag: Path) -> None:
    add_manifest(bag, "sha512")
    _drop_manifest_line("manifest-sha512.txt", "data/a.txt")(bag)


def add_manifest(bag: Path, algorithm: str) -> None:
    rels = sorted(str(p.relative_to(bag)) for p in (bag / "data").rglob("*") if p.is_file())
    write_tag(bag, f"manifest-{algorithm}.txt",
              "".join(manifest_line(bag, rel, algorithm) for rel in rels))


def _fetch_missing(bag: Path) -> None:
    (bag / "data" / "a.txt").unlink()
    fix_oxum(bag)
    write_tag(bag, "fetch.txt", "https://example.org/bag/data/a.txt 6 data/a.txt\n")


def _fetch_not_in_manifest(bag: Path) -> None:
    add_payload(bag, "extra.txt", b"extra\n", listed=False)
    write_tag(bag, "fetch.txt", "https://example.org/extra.txt - data/extra.txt\n")


def _file_with_raw_name(raw: bytes, data: bytes = b"x\n") -> Mutation:
    """A payload file whose name is the bytes ``raw`` (maybe not UTF-8), listed in the manifest."""
    def mutate(bag: Path) -> None:
        path = os.path.join(os.fsencode(bag / "data"), raw)
        with open(path, "wb") as f:
            f.write(data)
        line = hashlib.sha256(data).hexdigest().encode() + b"  data/" + raw + b"\n"
        append_tag(bag, "manifest-sha256.txt", line)
        fix_oxum(bag)
    return mutate


def _symlink(bag: Path) -> None:
    (bag / "data" / "passwd").symlink_to("/etc/passwd")


def _fifo(bag: Path) -> None:
    os.mkfifo(bag / "data" / "pipe")


LATIN1_FILES = {"café.txt": b"caf\xe9\n", "a.txt": b"hello\n"}


def _latin1_bag(bag: Path) -> None:
    """Re-encode the tag files in ISO-8859-1 and declare it (use with LATIN1_FILES)."""
    info = (bag / "bag-info.txt").read_text(encoding="utf-8")
    info = info.replace("Văn phòng UBND tỉnh (test)", "Archivo José Martí")
    (bag / "bag-info.txt").write_bytes(info.encode("iso-8859-1"))
    manifest = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    (bag / "manifest-sha256.txt").write_bytes(manifest.encode("iso-8859-1"))
    set_version(bag, "0.97", "ISO-8859-1")


def _percent_1_0(bag: Path) -> None:
    add_payload(bag, "100%.txt", b"percent\n")
    set_version(bag, "1.0")


def _dot_slash(bag: Path) -> None:
    text = (bag / "manifest-sha256.txt").read_text(encoding="utf-8")
    write_tag(bag, "manifest-sha256.txt", text.replace("  data/a.txt", "  ./data/a.txt"))


def _unsupported_manifest(bag: Path) -> None:
    shutil.copy(bag / "manifest-sha256.txt", bag / "manifest-whirlpool.txt")
    rewrite_tagmanifests(bag)


def _remove_payload(bag: Path) -> None:
    (bag / "data" / "a.txt").unlink()
    fix_oxum(bag)


def _label_whitespace_1_0(bag: Path) -> None:
    set_version(bag, "1.0")
    append_tag(bag, "bag-info.txt", "Test-Tag : 3\n")


def _md5_only(bag: Path) -> None:
    add_manifest(bag, "md5")
    (bag / "manifest-sha256.txt").unlink()
    rewrite_tagmanifests(bag)


def _add_files(*rels: str) -> Mutation:
    def mutate(bag: Path) -> None:
        for rel in rels:
            add_payload(bag, rel, rel.encode() + b"\n")
    return mutate


#: Error code → a mutation that must make the bag fail with (at least) that code.
BAD: dict[str, Fixture] = {
    "BAGIT-NOT-A-BAG": lambda bag: (bag / "bagit.txt").unlink(),
    "BAGIT-DECLARATION-BOM": _bagit_txt(
        codecs.BOM_UTF8 + b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"),
    "BAGIT-DECLARATION-NOT-UTF8": _bagit_txt(
        "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n".encode("utf-16")),
    "BAGIT-DECLARATION-MALFORMED": _bagit_txt(
        b"BagIt-Version:0.97\nTag-File-Character-Encoding: UTF-8\n"),
    "BAGIT-DECLARATION-LINE-COUNT": _bagit_txt(
        b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\nExtra: line\n"),
    "BAGIT-VERSION-MALFORMED": _bagit_txt(
        b"BagIt-Version: .97\nTag-File-Character-Encoding: UTF-8\n"),
    "BAGIT-VERSION-UNSUPPORTED": _bagit_txt(
        b"BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n"),
    "BAGIT-ENCODING-UNKNOWN": _bagit_txt(
        b"BagIt-Version: 0.97\nTag-File-Character-Encoding: KLINGON-8\n"),
    "BAGIT-TAGFILE-DECODING": lambda bag: append_tag(bag, "bag-info.txt", b"Note: caf\xe9\n"),
    "BAGIT-TAGFILE-LINE-TOO-LONG": _manifest_append(f"{HASH}  data/{'x' * 70_000}\n"),
    "BAGIT-TAGFILE-TOO-LARGE": _bagit_txt(
        b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n" + b"\n" * 70_000),
    "BAGIT-PAYLOAD-DIR-MISSING": lambda bag: (bag / "data").rename(bag / "payload"),
    "BAGIT-PAYLOAD-UNLISTED": lambda bag: add_payload(bag, "extra.txt", b"x\n", listed=False),
    "BAGIT-MANIFEST-MISSING": lambda bag: (bag / "manifest-sha256.txt").unlink(),
    "BAGIT-MANIFEST-LINE-MALFORMED": _manifest_append("no-separator-here\n"),
    "BAGIT-MANIFEST-CHECKSUM-MALFORMED": _manifest_append("abc123  data/a.txt\n"),
    "BAGIT-MANIFEST-DUPLICATE": _manifest_append(f"{HASH}  data/a.txt\n"),
    "BAGIT-MANIFEST-PATH-OUTSIDE-PAYLOAD": _manifest_append(f"{HASH}  bag-info.txt\n"),
    "BAGIT-MANIFEST-FILE-MISSING": _remove_payload,
    "BAGIT-MANIFEST-PATH-NORMALISATION": _rename(NFC_NAME, unicodedata.normalize("NFD",
                                                                                 NFC_NAME)),
    "BAGIT-MANIFEST-PATH-CASE": _rename("a.txt", "A.txt"),
    "BAGIT-MANIFEST-MISMATCH": _ext_change_content,
    "BAGIT-MANIFEST-INCOMPLETE": _incomplete_1_0,
    "BAGIT-TAGMANIFEST-FILE-MISSING": lambda bag: (bag / "bag-info.txt").unlink(),
    "BAGIT-TAGMANIFEST-MISMATCH": lambda bag: (bag / "bag-info.txt").write_text(
        "Source-Organization: someone else\n", encoding="utf-8"),
    "BAGIT-TAGMANIFEST-LISTS-PAYLOAD": lambda bag: append_raw(
        bag, "tagmanifest-sha256.txt", manifest_line(bag, "data/a.txt")),
    "BAGIT-TAGMANIFEST-LISTS-ITSELF": lambda bag: append_raw(
        bag, "tagmanifest-sha256.txt", f"{HASH}  tagmanifest-sha256.txt\n"),
    "BAGIT-INFO-LINE-MALFORMED": lambda bag: append_tag(bag, "bag-info.txt", "no colon here\n"),
    "BAGIT-INFO-LABEL-WHITESPACE": _label_whitespace_1_0,
    "BAGIT-INFO-OXUM-MALFORMED": lambda bag: edit_info(bag, "Payload-Oxum:",
                                                       "Payload-Oxum: lots\nX-Old-Oxum:"),
    "BAGIT-INFO-OXUM-MISMATCH": lambda bag: edit_info(bag, "Payload-Oxum: ",
                                                      "Payload-Oxum: 1"),
    "BAGIT-INFO-OXUM-REPEATED": lambda bag: append_tag(bag, "bag-info.txt",
                                                       f"Payload-Oxum: {oxum(bag)}\n"),
    "BAGIT-FETCH-INCOMPLETE": _fetch_missing,
    "BAGIT-FETCH-LINE-MALFORMED": lambda bag: write_tag(bag, "fetch.txt", "just-a-url\n"),
    "BAGIT-FETCH-PATH-OUTSIDE-PAYLOAD": lambda bag: write_tag(
        bag, "fetch.txt", "https://example.org/x - bag-info.txt\n"),
    "BAGIT-FETCH-NOT-IN-MANIFEST": _fetch_not_in_manifest,
    "BAGIT-PATH-ABSOLUTE": _manifest_append(f"{HASH}  /etc/passwd\n"),
    "BAGIT-PATH-DRIVE-LETTER": _manifest_append(f"{HASH}  C:/Windows/System32/setx.exe\n"),
    "BAGIT-PATH-UNC": _manifest_append(f"{HASH}  //server/share/setx.exe\n"),
    "BAGIT-PATH-BACKSLASH": _manifest_append(f"{HASH}  data\\a.txt\n"),
    "BAGIT-PATH-DOT-DOT": _manifest_append(f"{HASH}  data/../../../etc/passwd\n"),
    "BAGIT-PATH-DOT-SEGMENT": _manifest_append(f"{HASH}  data/./a.txt\n"),
    "BAGIT-PATH-TILDE": _manifest_append(f"{HASH}  ~/.bashrc\n"),
    "BAGIT-PATH-EMPTY-SEGMENT": _manifest_append(f"{HASH}  data//a.txt\n"),
    "BAGIT-PATH-NUL": _manifest_append(f"{HASH}  data/a\x00.txt\n"),
    "BAGIT-PATH-CONTROL-CHARACTER": _file_with_raw_name(b"red\x1b[31m.txt"),
    "BAGIT-PATH-INVALID-ENCODING": _file_with_raw_name(b"caf\xe9.txt"),
    "BAGIT-PATH-NORMALISATION-COLLISION": _add_files(
        unicodedata.normalize("NFC", "Ảnh.jpg"), unicodedata.normalize("NFD", "Ảnh.jpg")),
    "BAGIT-SYMLINK": _symlink,
    "BAGIT-SPECIAL-FILE": _fifo,
}

#: Warning (or info / not-checked) code → a mutation after which the bag must still be valid.
WARN: dict[str, Fixture] = {
    "BAGIT-ENCODING-NOT-UTF8": (LATIN1_FILES, _latin1_bag),
    "BAGIT-TAGFILE-BOM": lambda bag: write_tag(
        bag, "bag-info.txt", codecs.BOM_UTF8 + (bag / "bag-info.txt").read_bytes()),
    "BAGIT-PAYLOAD-EMPTY-DIR": lambda bag: (bag / "data" / "Hồ sơ trống").mkdir(),
    "BAGIT-PAYLOAD-SYSTEM-FILE": _add_files(".DS_Store", "~$Tờ trình.docx"),
    "BAGIT-MANIFEST-ALGORITHM-WEAK": _md5_only,
    "BAGIT-MANIFEST-ALGORITHM-UNSUPPORTED": _unsupported_manifest,
    "BAGIT-MANIFEST-PATH-DOT-SLASH": _dot_slash,
    "BAGIT-MANIFEST-PATH-PERCENT": _percent_1_0,
    "BAGIT-MANIFEST-DUPLICATE": lambda bag: append_tag(bag, "manifest-sha256.txt",
                                                       manifest_line(bag, "data/a.txt")),
    "BAGIT-MANIFEST-INCOMPLETE": _incomplete_0_97,
    "BAGIT-INFO-LABEL-WHITESPACE": lambda bag: append_tag(bag, "bag-info.txt",
                                                          "Test-Tag : 3\n"),
    "BAGIT-INFO-REPEATED": lambda bag: append_tag(bag, "bag-info.txt",
                                                  "Bagging-Date: 2024-01-01\n"),
    "BAGIT-INFO-DATE-FORMAT": lambda bag: edit_info(bag, "Bagging-Date: ",
                                                    "Bagging-Date: 26/02/2016\nX-Was: "),
    "BAGIT-FETCH-LENGTH-MISMATCH": lambda bag: write_tag(
        bag, "fetch.txt", "https://example.org/a.txt 999 data/a.txt\n"),
    "BAGIT-FETCH-SATISFIED": lambda bag: write_tag(
        bag, "fetch.txt", "https://example.org/a.txt 6 data/a.txt\n"),
    "BAGIT-FETCH-URL-RELATIVE": lambda bag: write_tag(
        bag, "fetch.txt", "../other-aip/data/a.txt 6 data/a.txt\n"),
    "BAGIT-PATH-BIDI-CONTROL": _add_files("invoice\u202egpj.exe"),
    "BAGIT-PATH-WINDOWS-RESERVED": _add_files("CON.txt", "ends with dot."),
    "BAGIT-PATH-WINDOWS-CHARACTER": _add_files("Báo cáo: quý 1?.txt"),
    "BAGIT-PATH-CASE-COLLISION": _add_files("Hồ Sơ 01/khác.txt"),
    "BAGIT-PATH-NORMALISATION-FOLDERS": _add_files(
        unicodedata.normalize("NFD", "Hồ sơ 01") + "/khác.txt"),
}
