import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Remembers the engine's answers about images (a repository's local tags, one image's
/// inspection), because on Docker 20.10 both walk every image the engine holds: with 300
/// more images each costs 25–40 ms more, on every run.
///
/// A remembered answer is trusted only while the engine's event log proves that no image
/// changed since it was read: the engine keeps its last 256 events in memory, and each
/// answer is stored with the newest event seen before it was read (the anchor). On use,
/// dstack asks for the events since the anchor. If the anchor is among them (so no event
/// since it was lost, and the engine did not restart) and none after it is an image event
/// (tag, untag, delete, pull, push, load, import), the answer still holds; anything else
/// (an image event, the anchor gone, an unreadable answer) asks the engine again. Builds,
/// pulls, tags and removals outside dstack are therefore always seen.
struct EngineAnswerCache {
  /// An event of the engine's log, identified well enough to be found again.
  struct Anchor: Codable, Equatable {
    let timeNano: Int64
    let type: String
    let action: String
    let id: String
  }

  private struct Stored: Codable {
    let path: String
    let anchor: Anchor
    let status: Int
    let body: [UInt8]
  }

  let folder: String
  let engine: DockerEngineSocket

  /// GETs `apiPath` from the engine, or returns the remembered answer while the event log
  /// proves it current. Answers other than 200 and 404 are never remembered.
  func get(_ apiPath: String) -> (status: Int, body: [UInt8])? {
    if let remembered = remembered(apiPath) { return remembered }
    let anchor = events(since: 1)?.last
    guard let answer = engine.get(apiPath) else { return nil }
    if let anchor, answer.status == 200 || answer.status == 404 {
      remember(Stored(path: apiPath, anchor: anchor, status: answer.status, body: answer.body))
    }
    return answer
  }

  private func remembered(_ apiPath: String) -> (status: Int, body: [UInt8])? {
    guard let data = FileManager.default.contents(atPath: file(apiPath)),
      let stored = try? JSONDecoder().decode(Stored.self, from: data), stored.path == apiPath,
      let events = events(since: stored.anchor.timeNano),
      let index = events.firstIndex(of: stored.anchor)
    else { return nil }
    let changed = events[events.index(after: index)...].contains { $0.type == "image" }
    return changed ? nil : (stored.status, stored.body)
  }

  private func remember(_ stored: Stored) {
    guard let data = try? JSONEncoder().encode(stored) else { return }
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try? data.write(to: URL(fileURLWithPath: file(stored.path)), options: .atomic)
  }

  /// One file per engine socket and request.
  private func file(_ apiPath: String) -> String {
    folder + "/" + Digest(of: Array((engine.path + " " + apiPath).utf8)).short + ".json"
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
