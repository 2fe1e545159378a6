"""A guarded, read-only view of a zip file: the central directory and a few bounded member reads.

Why not `zipfile` alone: an IPA is untrusted input. `zipfile` builds a ZipInfo for every entry before we
can look at the count, trusts declared sizes, and offers no bound on how much a member inflates to. Here
the central directory is read once (its size and entry count capped), every name is checked for path
traversal and symlinks, and a member is only ever read with a byte limit that holds even when the
declared size lies. Nothing is ever extracted to disk.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from typing import BinaryIO, NamedTuple

from publish.ipa.errors import IpaError
from publish.ipa.regular_file import NotRegularFile, open_regular_file

MAX_ENTRIES = 200_000
MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIG = b"PK\x01\x02"
_RECORD_HEAD = struct.Struct("<4s24x3H")  # a central record's signature, and its name, extra and comment lengths
_RECORD_HEAD_BYTES = (*range(4), *range(28, 34))  # where in a record those fields are
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIG = b"PK\x03\x04"
_MAX_COMMENT = 0xFFFF

_S_IFMT = 0o170000
_S_IFLNK = 0o120000
_UNIX = 3

_REBUILD_HINT = "Re-export the archive from Xcode (Product > Archive > Distribute App) or re-create it with `ditto -c -k`."


class ZipEntry(NamedTuple):  # a NamedTuple: cheap to build for every entry of a large archive
    name: str
    compress_type: int
    flag_bits: int
    crc: int
    compress_size: int
    file_size: int
    header_offset: int
    create_system: int
    external_attr: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def is_symlink(self) -> bool:
        return self.create_system == _UNIX and (self.external_attr >> 16) & _S_IFMT == _S_IFLNK

    @property
    def is_encrypted(self) -> bool:
        return bool(self.flag_bits & 0x1)


class ZipArchive:
    """The central directory of a zip file, plus bounded reads of single members.

    Use as a context manager; the file stays open for member reads.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._file: BinaryIO = open_regular_file(self.path)
        except FileNotFoundError:
            raise IpaError(f"{self.path}: no such file.", finding_id="zip.not_found",
                           hint="Check the path to the .ipa (relative paths are resolved from the current directory).") from None
        except IsADirectoryError:
            raise IpaError(f"{self.path} is a directory, not an .ipa file.", finding_id="zip.not_a_zip",
                           hint="Pass the exported .ipa file, not the .app or .xcarchive folder.") from None
        except NotRegularFile:
            raise IpaError(f"{self.path} is not a regular file (a pipe, device or socket), so it is not an .ipa.",
                           finding_id="zip.not_a_zip", hint="Pass the path of the exported .ipa file itself (a zip "
                           "archive is read from its end, so it cannot come through a pipe).") from None
        except OSError as exc:
            raise IpaError(f"{self.path}: cannot be read ({exc.strerror}).", finding_id="zip.unreadable",
                           hint="Check the file's permissions.") from None
        try:
            self.file_size = os.fstat(self._file.fileno()).st_size
            self._central_directory, self._base_offset = self._read_central_directory()
            self._check_entry_count(_count_records(self._central_directory))
            self.entries: dict[str, ZipEntry] = self._parse_entries(self._central_directory)
            digest = hashlib.sha256(self._central_directory)
            digest.update(b"\0file-size=%d" % self.file_size)
            self.fingerprint = digest.hexdigest()
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> ZipArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def names(self) -> list[str]:
        return list(self.entries)

    # -- central directory ------------------------------------------------------------------------

    def _read_at(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        return self._file.read(size)

    def _read_central_directory(self) -> tuple[bytes, int]:
        tail_size = min(self.file_size, _EOCD.size + _MAX_COMMENT)
        tail = self._read_at(self.file_size - tail_size, tail_size)
        pos = tail.rfind(_EOCD_SIG)
        while pos >= 0 and len(tail) - pos < _EOCD.size:
            pos = tail.rfind(_EOCD_SIG, 0, pos)
        if pos < 0:
            head = self._read_at(0, 4)
            if head == _LOCAL_SIG:
                raise IpaError(
                    f"{self.path} starts like a zip archive but its end (the central directory) is missing: the file is truncated.",
                    finding_id="zip.truncated",
                    hint="The download or copy was cut short; fetch or export the .ipa again and compare its size.")
            raise IpaError(
                f"{self.path} is not a zip archive, so it is not an .ipa.",
                finding_id="zip.not_a_zip",
                hint="Pass the .ipa exported by Xcode (Distribute App > App Store Connect > Export), not another file.")
        eocd_offset = self.file_size - tail_size + pos
        (_sig, disk, cd_disk, _entries_disk, entry_count, cd_size, cd_offset, _comment_len) = _EOCD.unpack_from(tail, pos)
        if disk != 0 or cd_disk != 0:
            raise IpaError(f"{self.path} is one part of a multi-part (split) zip archive.", finding_id="zip.split",
                           hint="Create the .ipa as a single file.")
        cd_end = eocd_offset
        self._zip64 = False
        locator_offset = eocd_offset - _ZIP64_LOCATOR.size
        if locator_offset >= 0:
            locator = self._read_at(locator_offset, _ZIP64_LOCATOR.size)
            if locator[:4] == _ZIP64_LOCATOR_SIG:
                _s, _d, zip64_offset, _disks = _ZIP64_LOCATOR.unpack(locator)
                # The record sits right before the locator; its recorded offset may be shifted by prepended data.
                record_offset = locator_offset - _ZIP64_EOCD.size
                record = self._read_at(record_offset, _ZIP64_EOCD.size) if record_offset >= 0 else b""
                if len(record) != _ZIP64_EOCD.size or record[:4] != _ZIP64_EOCD_SIG:
                    record = self._read_at(zip64_offset, _ZIP64_EOCD.size)
                    record_offset = zip64_offset
                if len(record) != _ZIP64_EOCD.size or record[:4] != _ZIP64_EOCD_SIG:
                    raise IpaError(f"{self.path}: the zip64 end-of-central-directory record is missing or damaged.",
                                   finding_id="zip.corrupt", hint=_REBUILD_HINT)
                (_s, _size, _made, _needed, _disk, _cd_disk, _n_disk, entry_count, cd_size, cd_offset) = _ZIP64_EOCD.unpack(record)
                cd_end = record_offset
                self._zip64 = True
        self._declared_entries = entry_count
        if entry_count > MAX_ENTRIES:
            raise IpaError(
                f"{self.path} declares {entry_count} zip entries; more than {MAX_ENTRIES} is refused as a likely zip bomb.",
                finding_id="zip.too_many_entries",
                hint="A real app bundle has far fewer files; rebuild the .ipa from the Xcode archive.")
        if cd_size > MAX_CENTRAL_DIRECTORY_BYTES:
            raise IpaError(
                f"{self.path} has a {cd_size}-byte zip central directory; more than {MAX_CENTRAL_DIRECTORY_BYTES} is refused as a likely zip bomb.",
                finding_id="zip.too_many_entries",
                hint="Rebuild the .ipa from the Xcode archive.")
        cd_start = cd_end - cd_size
        if cd_start < 0 or cd_offset > cd_start:
            raise IpaError(
                f"{self.path}: the zip central directory points outside the file, so the archive is truncated or damaged.",
                finding_id="zip.truncated",
                hint="Fetch or export the .ipa again; a partial download looks like this.")
        central_directory = self._read_at(cd_start, cd_size)
        if len(central_directory) != cd_size:
            raise IpaError(f"{self.path}: the zip central directory is cut short.", finding_id="zip.truncated",
                           hint="Fetch or export the .ipa again.")
        # Bytes prepended to the archive (self-extractors) shift every recorded offset by the same amount.
        return central_directory, cd_start - cd_offset

    def _check_entry_count(self, found: int | None) -> None:
        """The end record's count must be the directory's: readers that trust one or the other see different files.

        Counted before any entry is built, so a directory of a million tiny records is refused in a fraction of the
        time parsing it would take. A 16-bit count wraps in archives of more than 65 535 entries written without
        zip64; that alone is allowed. None (a damaged directory) is left to the full parse to describe.
        """
        if found is None:
            return
        if found > MAX_ENTRIES:
            raise self._too_many_entries()
        declared = self._declared_entries
        wrapped = not self._zip64 and found > 0xFFFF and found % 0x10000 == declared
        if found != declared and not wrapped:
            raise IpaError(
                f"{self.path}: the zip end record declares {declared} entries but the central directory holds "
                f"{found}; the archive is damaged or was tampered with.",
                finding_id="zip.corrupt", hint=_REBUILD_HINT)

    def _too_many_entries(self) -> IpaError:
        return IpaError(f"{self.path} has more than {MAX_ENTRIES} zip entries; refused as a likely zip bomb.",
                        finding_id="zip.too_many_entries",
                        hint="A real app bundle has far fewer files; rebuild the .ipa from the Xcode archive.")

    def _parse_entries(self, data: bytes) -> dict[str, ZipEntry]:
        entries: dict[str, ZipEntry] = {}
        pos = 0
        end = len(data)
        count = 0
        while pos < end:
            count += 1
            if count > MAX_ENTRIES:
                raise self._too_many_entries()
            if end - pos < _CENTRAL.size or data[pos:pos + 4] != _CENTRAL_SIG:
                raise IpaError(f"{self.path}: the zip central directory is damaged (bad record at byte {pos}).",
                               finding_id="zip.corrupt", hint=_REBUILD_HINT)
            (_sig, _made_version, create_system, _extract_version, _reserved, flag_bits, compress_type, _time, _date,
             crc, compress_size, file_size, name_len, extra_len, comment_len, _disk_start, _internal_attr,
             external_attr, header_offset) = _CENTRAL.unpack_from(data, pos)
            pos += _CENTRAL.size
            if pos + name_len + extra_len + comment_len > end:
                raise IpaError(f"{self.path}: the zip central directory is damaged (record overruns it).",
                               finding_id="zip.corrupt", hint=_REBUILD_HINT)
            raw_name = data[pos:pos + name_len]
            extra = data[pos + name_len:pos + name_len + extra_len]
            pos += name_len + extra_len + comment_len
            name = _decode_name(raw_name, flag_bits)
            if 0xFFFFFFFF in (file_size, compress_size, header_offset):
                file_size, compress_size, header_offset = _apply_zip64_extra(
                    extra, file_size, compress_size, header_offset, self.path)
            # Cheap screen on the raw bytes first; the precise check only runs on suspicious names.
            if b".." in raw_name or b"\0" in raw_name or raw_name[:1] in (b"/", b"\\") or raw_name[1:2] == b":":
                _check_name_is_safe(name, self.path)
            if create_system == _UNIX and (external_attr >> 16) & _S_IFMT == _S_IFLNK:
                raise IpaError(
                    f"{self.path} contains a symbolic link ({name}); App Store builds must not contain symlinks and they are refused here for safety.",
                    finding_id="zip.symlink",
                    hint="Replace the link with the real file in the app bundle, or zip with `ditto -c -k --keepParent` from the exported .app.")
            entry = ZipEntry(name, compress_type, flag_bits, crc, compress_size, file_size,
                             header_offset + self._base_offset, create_system, external_attr)
            if name in entries:
                # Two parsers may pick different copies of a duplicated name: a known way to smuggle content.
                raise IpaError(f"{self.path} contains the entry {name} twice; refused as ambiguous.",
                               finding_id="zip.duplicate_entry", hint=_REBUILD_HINT)
            entries[name] = entry
        return entries

    # -- member reads -----------------------------------------------------------------------------

    def read(self, name: str, *, limit: int, what: str) -> bytes:
        """The uncompressed bytes of one member, never more than `limit` (whatever the headers claim)."""
        entry = self.entries[name]
        if entry.is_encrypted:
            raise IpaError(f"{name} is encrypted inside the zip; an .ipa is never password-protected.",
                           finding_id="zip.encrypted", hint=_REBUILD_HINT)
        if entry.file_size > limit:
            raise IpaError(
                f"{what} ({name}) declares {entry.file_size} bytes, more than the {limit} allowed; refused as a likely zip bomb or corrupt archive.",
                finding_id="zip.member_too_large", hint=_REBUILD_HINT)
        if entry.compress_type not in (0, 8):
            raise IpaError(
                f"{name} is compressed with zip method {entry.compress_type}; an .ipa must use deflate or no compression.",
                finding_id="zip.unsupported_compression", hint=_REBUILD_HINT)
        data_start = self._data_start(entry)
        if data_start + entry.compress_size > self.file_size:
            raise IpaError(f"{name} runs past the end of {self.path}: the archive is truncated.",
                           finding_id="zip.truncated", hint="Fetch or export the .ipa again.")
        self._file.seek(data_start)
        if entry.compress_type == 0:
            data = self._file.read(min(entry.compress_size, limit + 1))
        else:
            data = self._inflate(entry, limit)
        if len(data) > limit:
            raise IpaError(
                f"{what} ({name}) inflates to more than {limit} bytes although it declares {entry.file_size}; refused as a zip bomb.",
                finding_id="zip.member_too_large", hint=_REBUILD_HINT)
        if len(data) != entry.file_size or zlib.crc32(data) != entry.crc:
            raise IpaError(f"{name} in {self.path} is corrupt (its size or checksum does not match the zip directory).",
                           finding_id="zip.corrupt", hint=_REBUILD_HINT)
        return data

    def _data_start(self, entry: ZipEntry) -> int:
        header = self._read_at(entry.header_offset, _LOCAL.size)
        if len(header) != _LOCAL.size or header[:4] != _LOCAL_SIG:
            raise IpaError(f"{entry.name}: its local zip header is missing or damaged in {self.path}.",
                           finding_id="zip.corrupt", hint=_REBUILD_HINT)
        fields = _LOCAL.unpack(header)
        name_len, extra_len = fields[-2], fields[-1]
        return entry.header_offset + _LOCAL.size + int(name_len) + int(extra_len)

    def _inflate(self, entry: ZipEntry, limit: int) -> bytes:
        inflater = zlib.decompressobj(-15)
        out = bytearray()
        remaining = entry.compress_size
        try:
            while remaining > 0 and len(out) <= limit:
                chunk = self._file.read(min(remaining, 256 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)
                # max_length bounds the output of this call; the unconsumed input is fed back below.
                out += inflater.decompress(chunk, limit + 1 - len(out))
                while inflater.unconsumed_tail and len(out) <= limit:
                    out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
            if len(out) <= limit:
                # Only what zlib still buffers internally (bounded by its window) comes out here.
                out += inflater.flush()
        except zlib.error as exc:
            raise IpaError(f"{entry.name} in {self.path} cannot be decompressed ({exc}).",
                           finding_id="zip.corrupt", hint=_REBUILD_HINT) from None
        return bytes(out)


def _count_records(data: bytes) -> int | None:
    """How many central-directory records `data` holds, walking only their length fields (None when damaged)."""
    if (alike := _count_alike_records(data)) is not None:
        return alike
    pos = 0
    end = len(data)
    # A hostile directory makes this loop run MAX_ENTRIES times before it is refused: names bound once, the
    # signature read with the lengths in one unpack, and the count kept by the loop itself.
    size, last, fields = _CENTRAL.size, len(data) - _CENTRAL.size, _RECORD_HEAD.unpack_from
    for count in range(MAX_ENTRIES + 1):
        if pos == end:
            return count
        if pos > last:
            return None
        signature, name_len, extra_len, comment_len = fields(data, pos)
        if signature != _CENTRAL_SIG:
            return None
        pos += size + name_len + extra_len + comment_len
    return MAX_ENTRIES + 1


def _count_alike_records(data: bytes) -> int | None:
    """The walk's count when every record has the first one's signature and lengths and they fill `data` exactly (a
    generated bomb, "f0000001", "f0000002"...: ~90 ms to walk 200 001), read by strided slices at C speed; else None."""
    head = _RECORD_HEAD.unpack_from(data, 0) if len(data) >= _CENTRAL.size else (b"", 0, 0, 0)
    count, left_over = divmod(len(data), stride := _CENTRAL.size + sum(head[1:]))
    if head[0] != _CENTRAL_SIG or left_over or any(data[at::stride] != data[at:at + 1] * count
                                                   for at in _RECORD_HEAD_BYTES):
        return None
    return min(int(count), MAX_ENTRIES + 1)  # each is where the walk steps to: it counts them all, up to its bound


def _apply_zip64_extra(extra: bytes, file_size: int, compress_size: int, header_offset: int,
                       path: str) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + size]
        pos += 4 + size
        if header_id != 0x0001:
            continue
        values = []
        for i in range(0, len(body) - 7, 8):
            values.append(struct.unpack_from("<Q", body, i)[0])
        try:
            if file_size == 0xFFFFFFFF:
                file_size = values.pop(0)
            if compress_size == 0xFFFFFFFF:
                compress_size = values.pop(0)
            if header_offset == 0xFFFFFFFF:
                header_offset = values.pop(0)
        except IndexError:
            break
        return file_size, compress_size, header_offset
    raise IpaError(f"{path}: a zip64 entry lacks its size/offset extra field; the archive is damaged.",
                   finding_id="zip.corrupt", hint=_REBUILD_HINT)


def _decode_name(raw: bytes, flag_bits: int) -> str:
    if flag_bits & 0x800 or raw.isascii():
        return raw.decode("utf-8", errors="replace")
    try:
        # macOS archivers write UTF-8 names without setting the UTF-8 flag; cp437 is the zip default otherwise.
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _check_name_is_safe(name: str, path: str) -> None:
    parts = name.replace("\\", "/").split("/")
    unsafe = (
        "\x00" in name
        or name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":" and name[0].isalpha())
        or ".." in parts
    )
    if unsafe:
        raise IpaError(
            f"{path} contains an unsafe entry name {name!r} (absolute path or '..' traversal); refused for safety.",
            finding_id="zip.unsafe_path",
            hint="A genuine .ipa only holds relative paths under Payload/; rebuild it from the Xcode archive.")
