import FoundationEssentials
import Synchronization

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
/// pulls, tags and removals outside dstack are therefore always seen. A repository's local
/// tags also hold across image events that name an image of another repository (a build's
/// tag, a push): the engine names the image in every event that adds a name, and untag and
/// delete, which name only the image ID, count for every answer. (An image's inspection
/// lists every name it has, so it is not asked about one repository.) An answer that holds
/// gets the newest event as its anchor once 64 events have followed the old one, so the
/// container runs of a busy engine do not push the anchor out of the log.
struct EngineAnswerCache {
  /// An event of the engine's log, identified well enough to be found again, with the
  /// image name it carries (`Actor.Attributes.name`; not part of its identity).
  struct Anchor: Decodable, Equatable {
    let timeNano: Int64
    let type: String
    let action: String
    let id: String
    let name: String?

    enum CodingKeys: String, CodingKey {
      case timeNano
      case type = "Type"
      case action = "Action"
      case id
      case actor = "Actor"
    }

    private struct Actor: Decodable {
      let attributes: [String: String]?
      enum CodingKeys: String, CodingKey { case attributes = "Attributes" }
    }

    init(timeNano: Int64, type: String, action: String, id: String, name: String? = nil) {
      (self.timeNano, self.type, self.action, self.id, self.name) = (timeNano, type, action, id, name)
    }

    init(from decoder: any Decoder) throws {
      let event = try decoder.container(keyedBy: CodingKeys.self)
      timeNano = try event.decode(Int64.self, forKey: .timeNano)
      type = try event.decodeIfPresent(String.self, forKey: .type) ?? ""
      action = try event.decodeIfPresent(String.self, forKey: .action) ?? ""
      id = try event.decodeIfPresent(String.self, forKey: .id) ?? ""
      name = (try? event.decodeIfPresent(Actor.self, forKey: .actor))?.attributes?["name"]
    }

    static func == (left: Anchor, right: Anchor) -> Bool {
      (left.timeNano, left.type, left.action, left.id) == (right.timeNano, right.type, right.action, right.id)
    }

    /// Whether this event may change an answer about `repository` (nil: about any image).
    func mayChange(_ repository: RegistryRepository?) -> Bool {
      guard type == "image" else { return false }
      guard let repository, let name, !name.hasPrefix("sha256:"), Digest(name) == nil else { return true }
      return RegistryRepository(ImageReference(parsing: name).repository) == repository
    }
  }

  /// A remembered answer. On disk: one header line (format, status, the anchor's fields
  /// and the API path, separated by tabs), then the body as the engine sent it.
  private struct Stored {
    static let format = "dstack-engine-answer-1"
    let path: String
    let anchor: Anchor
    let status: Int
    let body: [UInt8]

    var bytes: [UInt8] {
      let fields = [
        Self.format, String(status), String(anchor.timeNano), anchor.type, anchor.action, anchor.id, path,
      ]
      return Array((fields.joined(separator: "\t") + "\n").utf8) + body
    }

    init(path: String, anchor: Anchor, status: Int, body: [UInt8]) {
      (self.path, self.anchor, self.status, self.body) = (path, anchor, status, body)
    }

    init?(_ bytes: [UInt8]) {
      guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
      let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(
        separator: "\t", omittingEmptySubsequences: false)
      guard fields.count == 7, fields[0] == Self.format, let status = Int(fields[1]), let time = Int64(fields[2])
      else { return nil }
      self.init(
        path: String(fields[6]),
        anchor: Anchor(timeNano: time, type: String(fields[3]), action: String(fields[4]), id: String(fields[5])),
        status: status, body: Array(bytes[(newline + 1)...]))
    }
  }

  let folder: String
  let engine: DockerEngineSocket

  /// GETs `apiPath` from the engine, or returns the remembered answer while the event log
  /// proves it current: no image event since it was read, or (when the answer is about
  /// images of one `repository` only) none that may change that repository's. Answers other
  /// than 200 and 404 are never remembered, and none on an engine whose event log is not
  /// Docker's (Podman's does not name every image change).
  func get(_ apiPath: String, about repository: RegistryRepository? = nil) -> (status: Int, body: [UInt8])? {
    guard keepsDockersEventLog else { return engine.get(apiPath) }
    if let remembered = remembered(apiPath, about: repository) { return remembered }
    let anchor = events(since: 1)?.last
    guard let answer = engine.get(apiPath) else { return nil }
    if let anchor, answer.status == 200 || answer.status == 404 {
      remember(Stored(path: apiPath, anchor: anchor, status: answer.status, body: answer.body))
    }
    return answer
  }

  private func remembered(_ apiPath: String, about repository: RegistryRepository?) -> (status: Int, body: [UInt8])? {
    guard let data = FileManager.default.contents(atPath: file(apiPath)),
      let stored = Stored(Array(data)), stored.path == apiPath,
      let events = events(since: stored.anchor.timeNano),
      let index = events.firstIndex(of: stored.anchor)
    else { return nil }
    let newer = events[events.index(after: index)...]
    if newer.contains(where: { $0.mayChange(repository) }) { return nil }
    // Nothing that changes the answer up to the newest event either, so that event can be the anchor from
    // now on: moved forward before container runs push the anchor out of the engine's 256,
    // the answer stays usable however busy the engine is, and each run reads fewer events.
    if newer.count >= Self.eventsBeforeReanchoring, let newest = newer.last {
      remember(Stored(path: apiPath, anchor: newest, status: stored.status, body: stored.body))
    }
    return (stored.status, stored.body)
  }

  /// Whether the engine is Docker's, asked once per process and socket: Podman answers the
  /// same API, but its event log does not prove an answer current. `/_ping` says it in its
  /// `Server` header (`Docker/20.10.24 (linux)`; Podman's is `Libpod/…`) in well under a
  /// millisecond, where `/version` takes the engine 8 ms (it asks containerd and runc).
  private var keepsDockersEventLog: Bool {
    if let known = Self.isDocker.withLock({ $0[engine.path] }) { return known }
    guard let server = engine.serverHeader() else { return false }
    let docker = server.hasPrefix("Docker/")
    Self.isDocker.withLock { $0[engine.path] = docker }
    return docker
  }

  private static let isDocker = Mutex<[String: Bool]>([:])

  /// How many events may follow an anchor before it is moved forward (a quarter of the
  /// engine's log: one write every ten or so container runs).
  static let eventsBeforeReanchoring = 64

  private func remember(_ stored: Stored) {
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try? Data(stored.bytes).write(to: URL(fileURLWithPath: file(stored.path)), options: .atomic)
  }

  /// One file per engine socket and request.
  private func file(_ apiPath: String) -> String {
    folder + "/" + Digest(of: Array((engine.path + " " + apiPath).utf8)).short + ".answer"
  }

  /// The event log as this process read it, by engine socket: a run asks about a few
  /// images within milliseconds, and one read of the log serves them all, until dstack
  /// itself changes something (`forgetEvents`).
  private static let eventLog = Mutex<[String: (since: Int64, events: [Anchor])]>([:])

  /// Drops the event log this process read: after a change dstack made (a build, a push,
  /// a tag), the log holds events the read copy does not.
  func forgetEvents() {
    _ = Self.eventLog.withLock { $0.removeValue(forKey: engine.path) }
  }

  /// The engine's events from `nanoseconds` (since 1970) until now, oldest first.
  private func events(since nanoseconds: Int64) -> [Anchor]? {
    if let log = Self.eventLog.withLock({ $0[engine.path] }), log.since <= nanoseconds {
      return log.events.filter { $0.timeNano >= nanoseconds }
    }
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    let since = "\(nanoseconds / 1_000_000_000).\(String(nanoseconds % 1_000_000_000).leftPadded(to: 9))"
    let until = "\(now.tv_sec).\(String(now.tv_nsec).leftPadded(to: 9))"
    guard let (status, body) = engine.get("/events?since=\(since)&until=\(until)"), status == 200 else { return nil }
    // The log is one JSON object per line: read it as one array, in one pass.
    let lines = body.split(separator: UInt8(ascii: "\n")).filter { !$0.isEmpty }
    let array = Array("[".utf8) + Array(lines.joined(separator: Array(",".utf8))) + Array("]".utf8)
    guard let events = try? JSONDecoder().decode([Anchor].self, from: Data(array)) else { return nil }
    Self.eventLog.withLock { $0[engine.path] = (nanoseconds, events) }
    return events
  }
}
