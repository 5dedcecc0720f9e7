import Foundation

/// A ustar archive holding `entries` (type "0" file, "5" folder; pax headers for long names).
package func tarArchive(_ entries: [(path: String, contents: String, type: Character)]) -> [UInt8] {
  func header(_ name: String, size: Int, type: Character) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    func put(_ text: String, at offset: Int) {
      for (index, byte) in text.utf8.enumerated() { block[offset + index] = byte }
    }
    put(String(name.prefix(100)), at: 0)
    put("0000644", at: 100)
    put(String(format: "%011o", size), at: 124)
    put(String(format: "%011o", 0), at: 136)
    block[156] = UInt8(ascii: type.unicodeScalars.first ?? "0")
    put("ustar", at: 257)
    put("00", at: 263)
    put("        ", at: 148)
    let checksum = block.reduce(0) { $0 + Int($1) }
    put(String(format: "%06o", checksum) + "\0 ", at: 148)
    return block
  }
  func padded(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512) }
  var archive: [UInt8] = []
  for entry in entries {
    if entry.path.utf8.count > 100 {
      let record = " path=\(entry.path)\n"
      var length = record.utf8.count + 2
      if String(length).count + record.utf8.count != length { length += 1 }
      let pax = Array("\(length)\(record)".utf8)
      archive += header("PaxHeader", size: pax.count, type: "x") + padded(pax)
    }
    let body = Array(entry.contents.utf8)
    archive += header(entry.path, size: body.count, type: entry.type) + padded(body)
  }
  return archive + [UInt8](repeating: 0, count: 1024)
}
