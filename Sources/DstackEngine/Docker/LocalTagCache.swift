import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Remembers a repository's local tags so that a run does not read the engine's whole
/// image list, whose cost grows with every image the engine holds (24 ms more with 300).
///
/// A remembered list is trusted only while the engine's event log proves that no image
/// changed since it was read: the engine keeps its last 256 events in memory, and each
/// list is stored with the newest event seen before the list was read (the anchor). On
/// use, dstack asks for the events since the anchor. If the anchor is among them (so no
/// event since it was lost, and the engine did not restart) and none after it is an image
/// event (tag, untag, delete, pull, load, import), the list still holds; anything else
/// (an image event, the anchor gone, an unreadable answer) reads the list again. Builds,
/// pulls, tags and removals outside dstack are therefore always seen.
struct LocalTagCache {
  /// One tag and the image it points to.
  struct Entry: Codable, Equatable {
    let tag: String
    let imageID: Digest
  }

  /// An event of the engine's log, identified well enough to be found again.
  struct Anchor: Codable, Equatable {
    let timeNano: Int64
    let type: String
    let action: String
    let id: String
  }

  private struct Stored: Codable {
    let repository: String
    let anchor: Anchor
    let tags: [Entry]
  }

  let folder: String
  let engine: DockerEngineSocket

  /// The remembered tags of `repository`, when the event log proves them current.
  func remembered(_ repository: String) -> [Entry]? {
    guard let data = FileManager.default.contents(atPath: path(repository)),
      let stored = try? JSONDecoder().decode(Stored.self, from: data), stored.repository == repository,
      let events = events(since: stored.anchor.timeNano),
      let index = events.firstIndex(of: stored.anchor)
    else { return nil }
    let changed = events[events.index(after: index)...].contains { $0.type == "image" }
    return changed ? nil : stored.tags
  }

  /// The newest event in the engine's log, read before a full list so that a change
  /// between the two is seen next time; nil when the log is empty or unreadable.
  func currentAnchor() -> Anchor? { events(since: 1)?.last }

  /// Stores `tags` as read after `anchor`.
  func remember(_ tags: [Entry], for repository: String, after anchor: Anchor) {
    guard let data = try? JSONEncoder().encode(Stored(repository: repository, anchor: anchor, tags: tags)) else {
      return
    }
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try? data.write(to: URL(fileURLWithPath: path(repository)), options: .atomic)
  }

  /// One file per engine socket and repository.
  private func path(_ repository: String) -> String {
    folder + "/" + Digest(of: Array((engine.path + " " + repository).utf8)).short + ".json"
  }

  /// The engine's events from `seconds` (nanoseconds since 1970) until now, oldest first.
  private func events(since nanoseconds: Int64) -> [Anchor]? {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    let since = "\(nanoseconds / 1_000_000_000).\(String(nanoseconds % 1_000_000_000).leftPadded(to: 9))"
    let until = "\(now.tv_sec).\(String(now.tv_nsec).leftPadded(to: 9))"
    guard let (status, body) = engine.get("/events?since=\(since)&until=\(until)"), status == 200 else { return nil }
    struct Event: Decodable {
      let timeNano: Int64
      let type: String?
      let action: String?
      let id: String?
      enum CodingKeys: String, CodingKey {
        case timeNano
        case type = "Type"
        case action = "Action"
        case id
      }
    }
    var anchors: [Anchor] = []
    for line in body.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
      guard let event = try? JSONDecoder().decode(Event.self, from: Data(line)) else { return nil }
      anchors.append(
        Anchor(timeNano: event.timeNano, type: event.type ?? "", action: event.action ?? "", id: event.id ?? ""))
    }
    return anchors
  }
}
