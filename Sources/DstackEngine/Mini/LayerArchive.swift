import CZlib

/// A layer or archive that cannot be read.
package struct ArchiveError: Error, CustomStringConvertible {
  package let description: String
  init(_ description: String) { self.description = description }
}

/// gzip decompression through zlib.
enum Gzip {
  /// Largest decompressed size accepted: a mini image holds a few scripts.
  static let limit = 64 << 20

  static func isCompressed(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

  static func decompress(_ bytes: [UInt8]) throws(ArchiveError) -> [UInt8] {
    var stream = z_stream()
    // 15 + 32: the largest window, and a gzip (or zlib) header detected automatically.
    guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
      throw ArchiveError("cannot start gzip decompression")
    }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    var input = bytes
    let status: Int32 = input.withUnsafeMutableBufferPointer { source in
      stream.next_in = source.baseAddress
      stream.avail_in = uInt(source.count)
      var status = Z_OK
      while status == Z_OK {
        status = chunk.withUnsafeMutableBufferPointer { buffer in
          stream.next_out = buffer.baseAddress
          stream.avail_out = uInt(buffer.count)
          return inflate(&stream, Z_NO_FLUSH)
        }
        output.append(contentsOf: chunk[0..<(chunk.count - Int(stream.avail_out))])
        if output.count > limit { return Z_MEM_ERROR }
        if status == Z_BUF_ERROR && stream.avail_in == 0 { break }
      }
      return status
    }
    guard status == Z_STREAM_END else {
      throw ArchiveError(output.count > limit ? "layer is larger than \(limit >> 20) MiB" : "corrupt gzip data")
    }
    return output
  }
}

/// One entry of a tar archive.
struct TarEntry {
  enum Kind { case file, directory, other }
  let path: String
  let kind: Kind
  let contents: ArraySlice<UInt8>
}

/// Reads tar archives (ustar, with pax `path` records and GNU long names).
enum Tar {
  static func entries(_ archive: [UInt8]) throws(ArchiveError) -> [TarEntry] {
    var entries: [TarEntry] = []
    var offset = 0
    var longName: String?
    while offset + 512 <= archive.count {
      let header = archive[offset..<(offset + 512)]
      if header.allSatisfy({ $0 == 0 }) { break }
      guard let size = number(header, 124, 12) else { throw ArchiveError("corrupt tar header at byte \(offset)") }
      let start = offset + 512
      guard size >= 0, size <= archive.count - start else {
        throw ArchiveError("tar header at byte \(offset) declares \(size) bytes, more than the archive holds")
      }
      let contents = archive[start..<(start + size)]
      offset = start + (size + 511) / 512 * 512
      let type = header[header.startIndex + 156]
      switch type {
      case UInt8(ascii: "x"):
        longName = paxPath(contents) ?? longName
        continue
      case UInt8(ascii: "L"):
        longName = text(contents[...], contents.count)
        continue
      case UInt8(ascii: "g"):
        continue
      default:
        break
      }
      var path = text(header, 0, 100)
      if header[(header.startIndex + 257)..<(header.startIndex + 262)].elementsEqual("ustar".utf8) {
        let prefix = text(header, 345, 155)
        if !prefix.isEmpty { path = prefix + "/" + path }
      }
      if let long = longName { path = long }
      longName = nil
      let kind: TarEntry.Kind =
        switch type {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): .file
        case UInt8(ascii: "5"): .directory
        default: .other
        }
      entries.append(TarEntry(path: path, kind: kind, contents: contents))
    }
    return entries
  }

  /// A NUL-terminated string field.
  private static func text(_ block: ArraySlice<UInt8>, _ start: Int, _ length: Int) -> String {
    let field = block[(block.startIndex + start)..<(block.startIndex + start + length)]
    return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
  }

  private static func text(_ bytes: ArraySlice<UInt8>, _ length: Int) -> String {
    String(decoding: bytes.prefix(length).prefix { $0 != 0 }, as: UTF8.self)
  }

  /// An octal (or base-256) numeric field; nil when it is not a number or does not fit.
  private static func number(_ block: ArraySlice<UInt8>, _ start: Int, _ length: Int) -> Int? {
    let field = block[(block.startIndex + start)..<(block.startIndex + start + length)]
    if let first = field.first, first & 0x80 != 0 {
      guard first & 0x40 == 0 else { return nil }  // negative
      var value = Int(first & 0x3F)
      for byte in field.dropFirst() {
        guard value <= Int.max >> 8 else { return nil }
        value = value << 8 | Int(byte)
      }
      return value
    }
    let digits = field.prefix { $0 != 0 && $0 != UInt8(ascii: " ") }.drop { $0 == UInt8(ascii: " ") }
    if digits.isEmpty { return 0 }
    return Int(String(decoding: digits, as: UTF8.self), radix: 8)
  }

  /// The `path` record of a pax extended header ("LEN path=VALUE\n" records).
  private static func paxPath(_ records: ArraySlice<UInt8>) -> String? {
    var rest = records[...]
    while let space = rest.firstIndex(of: UInt8(ascii: " ")),
      let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)),
      length >= space - rest.startIndex + 2, rest.count >= length
    {
      let record = rest[rest.index(after: space)..<(rest.startIndex + length - 1)]
      if let equals = record.firstIndex(of: UInt8(ascii: "=")),
        String(decoding: record[record.startIndex..<equals], as: UTF8.self) == "path"
      {
        return String(decoding: record[record.index(after: equals)...], as: UTF8.self)
      }
      rest = rest[(rest.startIndex + length)...]
    }
    return nil
  }
}

/// The files under one folder of an image, assembled from its layers as the engine
/// would see them: upper layers win, whiteouts (`.wh.NAME`) and opaque markers
/// (`.wh..wh..opq`) hide what lower layers hold, and no path may leave the folder.
struct LayeredFolder {
  /// The folder inside the archives, such as `dstack/scripts`.
  let folder: String
  /// Files found so far, by path relative to `folder`.
  private(set) var files: [String: [UInt8]] = [:]
  private var decided: Set<String> = []
  private var hidden: Set<String> = []
  private var opaque: Set<String> = []

  init(folder: String) { self.folder = folder }

  /// Adds one layer's entries; call for the newest layer first.
  mutating func addLayer(_ entries: [TarEntry]) throws(ArchiveError) {
    var newHidden: Set<String> = []
    var newOpaque: Set<String> = []
    for entry in entries {
      guard let path = try Self.relativePath(entry.path, under: folder) else { continue }
      let (parent, name) = Self.split(path)
      if name == ".wh..wh..opq" {
        newOpaque.insert(parent)
      } else if name.hasPrefix(".wh.") {
        newHidden.insert(parent.isEmpty ? String(name.dropFirst(4)) : parent + "/" + name.dropFirst(4))
      } else if entry.kind == .file, !decided.contains(path), !isHidden(path) {
        files[path] = Array(entry.contents)
        decided.insert(path)
      } else if entry.kind != .directory {
        decided.insert(path)  // a link or device in an upper layer hides lower files too
      }
    }
    hidden.formUnion(newHidden)
    opaque.formUnion(newOpaque)
  }

  private func isHidden(_ path: String) -> Bool {
    var current = path
    while true {
      if hidden.contains(current) { return true }
      let (parent, _) = Self.split(current)
      if opaque.contains(parent) { return true }
      if parent.isEmpty { return false }
      current = parent
    }
  }

  private static func split(_ path: String) -> (parent: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return ("", path) }
    return (String(path[..<slash]), String(path[path.index(after: slash)...]))
  }

  /// `path` relative to `folder`, nil when outside it; throws for paths that try to escape.
  static func relativePath(_ path: String, under folder: String) throws(ArchiveError) -> String? {
    var parts: [Substring] = []
    for part in path.split(separator: "/") where part != "." && !part.isEmpty {
      guard part != ".." else { throw ArchiveError("refusing a path that leaves its folder: \(path)") }
      parts.append(part)
    }
    let folderParts = folder.split(separator: "/")
    guard parts.count > folderParts.count, parts.starts(with: folderParts) else { return nil }
    return parts.dropFirst(folderParts.count).joined(separator: "/")
  }
}
