import CSystemShims
import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How a child process's output stream is connected.
package enum OutputMode: Sendable {
  /// Shares this process's stream (the user sees it live).
  case inherit
  /// Sent to this process's standard error (progress that must not pollute stdout).
  case standardError
  /// Collected and returned in the result.
  case capture
}

/// What a child process reads on standard input.
package enum InputMode: Sendable, Equatable {
  case inherit
  case null
  case bytes([UInt8])
}

/// How a finished process ended.
package struct ProcessResult: Sendable, CustomStringConvertible {
  /// The command that ran.
  package let argv: [String]
  /// The exit code, or 128 + the signal number when a signal ended it (as shells report).
  package let status: Int32
  /// Captured standard output (empty unless captured).
  package let stdout: [UInt8]
  /// Captured standard error (empty unless captured).
  package let stderr: [UInt8]

  package var succeeded: Bool { status == 0 }

  /// Captured standard output as text, without the final newline.
  package var output: String { String(decoding: stdout, as: UTF8.self).trimmingTrailingNewlines() }
  /// Captured standard error as text, without the final newline.
  package var errorOutput: String { String(decoding: stderr, as: UTF8.self).trimmingTrailingNewlines() }

  package var description: String { "`\(shellCommandLine(argv))` exited \(status): \(errorOutput)" }
}

/// A process could not be started.
package enum ProcessError: Error, CustomStringConvertible {
  case notFound(program: String)
  case cannotStart(program: String, reason: String)
  /// The program ran longer than it was given and was stopped.
  case timedOut(program: String, limit: Duration)

  package var description: String {
    switch self {
    case .notFound(let program): "\(program): command not found (it is not on PATH)"
    case .cannotStart(let program, let reason): "\(program): cannot start: \(reason)"
    case .timedOut(let program, let limit):
      "\(program) did not finish within \(limit.secondsText) and was stopped"
    }
  }
}

/// Starts programs from argv arrays (never through a shell) and waits for them.
///
/// Built on `posix_spawn` and `waitpid`, so starting and reaping a child costs
/// microseconds (Foundation's `Process` adds tens of milliseconds per child on Linux,
/// which matters in front of every `docker` call). Children start with an empty signal
/// mask and default signal handlers. Captured output is drained as it arrives, so a
/// child writing more than a pipe holds cannot deadlock. While a child runs, the signals
/// this process receives (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are passed on to it and the
/// child is reaped; when the child then ends by that signal, this process ends by it too
/// (as a shell does), so no child is left behind. While a script runs, `StopSignals`
/// records the signal instead, so the script's clean-up runs before dstack ends by it.
package struct ProcessRunner: Sendable {
  /// The environment children inherit (and where PATH is looked up).
  package let environment: [String: String]

  package init(environment: [String: String]) {
    self.environment = environment
  }

  /// Runs `argv` to completion.
  /// - Parameter timeout: how long the program may run; past it, it gets SIGTERM, then
  ///   SIGKILL a second later.
  /// - Parameter uninterruptible: the program runs to its end, in a process group of its
  ///   own (a terminal's Ctrl-C does not reach it), and gets no stop signal from this
  ///   process; one received meanwhile takes effect once it has ended.
  /// - Throws: `ProcessError` when the program cannot be found or started, or ran out
  ///   of time; a non-zero exit is a result, not an error.
  package func run(
    _ argv: [String], stdin: InputMode = .null, stdout: OutputMode = .capture,
    stderr: OutputMode = .capture, directory: String? = nil, extraEnvironment: [String: String] = [:],
    timeout: Duration? = nil, uninterruptible: Bool = false
  ) throws(ProcessError) -> ProcessResult {
    guard let program = argv.first else { throw .cannotStart(program: "", reason: "empty command") }
    let path = try executablePath(program)
    if let directory, Paths.kind(of: directory) != .directory {
      throw .cannotStart(program: program, reason: "its working folder \(directory) does not exist")
    }
    var spawn = try SpawnPlan(
      stdin: stdin, stdout: stdout, stderr: stderr, directory: directory, ownGroup: uninterruptible)
    defer { spawn.release() }
    let environmentLines = environment.merging(extraEnvironment) { $1 }.map { "\($0.key)=\($0.value)" }
    fflush(nil)
    var pid = pid_t()
    var spawned: Int32 = 0
    // ETXTBSY: the program was written a moment ago, and a child that another thread was
    // starting then still held a copy of the writer's descriptor; that passes at once.
    for attempt in 1...5 {
      spawned = withCStrings(argv) { arguments in
        withCStrings(environmentLines) { environment in
          posix_spawn(&pid, path, &spawn.actions, &spawn.attributes, arguments, environment)
        }
      }
      guard spawned == ETXTBSY, attempt < 5 else { break }
      usleep(10_000)
    }
    spawn.closeChildEnds()
    guard spawned == 0 else {
      throw .cannotStart(program: program, reason: String(cString: strerror(spawned)))
    }
    dstack_forward_signals_to(pid, uninterruptible ? 0 : 1)
    let deadline = timeout.map { ContinuousClock.now + $0 }
    let (output, errors) = spawn.exchange(until: deadline)
    let status = Self.wait(for: pid, until: deadline)
    let received = dstack_stop_forwarding_to(pid)
    if received != 0 && (uninterruptible || status == 128 + received) {
      fflush(nil)
      raise(received)
    }
    guard let status else { throw .timedOut(program: program, limit: timeout ?? .zero) }
    return ProcessResult(argv: argv, status: status, stdout: output, stderr: errors)
  }

  /// The absolute path of `program`, looked up on PATH unless it contains a slash.
  package func executablePath(_ program: String) throws(ProcessError) -> String {
    if program.contains("/") {
      guard access(program, X_OK) == 0 else { throw .notFound(program: program) }
      return program
    }
    let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
      let candidate = "\(directory)/\(program)"
      var info = stat()
      if access(candidate, X_OK) == 0, stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
        return candidate
      }
    }
    throw .notFound(program: program)
  }

  /// Waits for `pid`: its exit code, or 128 + the signal that ended it; nil when it was
  /// still running at `deadline` (it is then stopped and reaped).
  private static func wait(for pid: pid_t, until deadline: ContinuousClock.Instant?) -> Int32? {
    var status: Int32 = 0
    if let deadline {
      var stoppedAt: ContinuousClock.Instant? = nil
      while waitpid(pid, &status, WNOHANG) == 0 {
        let now = ContinuousClock.now
        if let stoppedAt {
          if now >= stoppedAt + .seconds(1) { kill(pid, SIGKILL) }
        } else if now >= deadline {
          kill(pid, SIGTERM)
          stoppedAt = now
        }
        usleep(2_000)
      }
      if stoppedAt != nil { return nil }
    } else {
      while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
    let signal = status & 0x7F
    return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
  }
}

/// The file actions, attributes and pipes for one `posix_spawn`.
private struct SpawnPlan {
  var actions = posix_spawn_file_actions_t()
  var attributes = posix_spawnattr_t()
  /// Pipe ends this process keeps: the child's stdin writer and its output readers.
  private var inputWriter: Int32 = -1
  private var outputReader: Int32 = -1
  private var errorReader: Int32 = -1
  private var input: [UInt8] = []
  /// Pipe ends the child uses; closed here once it has started.
  private var childEnds: [Int32] = []

  init(stdin: InputMode, stdout: OutputMode, stderr: OutputMode, directory: String?, ownGroup: Bool)
    throws(ProcessError)
  {
    posix_spawn_file_actions_init(&actions)
    posix_spawnattr_init(&attributes)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
    // After a stop request, what starts is clean-up: in a process group of its own, so
    // another Ctrl-C at the terminal does not stop it halfway; so does what must not be
    // interrupted.
    if ownGroup || dstack_signal_received() != 0 {
      posix_spawnattr_setpgroup(&attributes, 0)
      flags |= POSIX_SPAWN_SETPGROUP
    }
    posix_spawnattr_setflags(&attributes, Int16(flags))
    if let directory { dstack_spawn_add_chdir(&actions, directory) }

    switch stdin {
    case .inherit: break
    case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    case .bytes(let bytes):
      let (reader, writer) = try Self.pipe()
      posix_spawn_file_actions_adddup2(&actions, reader, 0)
      (inputWriter, input) = (writer, bytes)
      childEnds.append(reader)
    }
    outputReader = try connect(stdout, to: 1)
    errorReader = try connect(stderr, to: 2)
    // The child gets standard input, output and error only: no descriptor this process
    // has open (a file being written, a socket) leaks into it, or into what it starts.
    dstack_spawn_add_close_from(&actions, 3)
  }

  /// Connects the child's `descriptor` as `mode` says; returns the read end when capturing.
  private mutating func connect(_ mode: OutputMode, to descriptor: Int32) throws(ProcessError) -> Int32 {
    switch mode {
    case .inherit: return -1
    case .standardError:
      if descriptor != 2 { posix_spawn_file_actions_adddup2(&actions, 2, descriptor) }
      return -1
    case .capture:
      let (reader, writer) = try Self.pipe()
      posix_spawn_file_actions_adddup2(&actions, writer, descriptor)
      childEnds.append(writer)
      return reader
    }
  }

  private static func pipe() throws(ProcessError) -> (reader: Int32, writer: Int32) {
    var ends: [Int32] = [-1, -1]
    guard dstack_pipe_cloexec(&ends) == 0 else {
      throw .cannotStart(program: "", reason: "cannot create a pipe: \(String(cString: strerror(errno)))")
    }
    return (ends[0], ends[1])
  }

  mutating func closeChildEnds() {
    for end in childEnds { close(end) }
    childEnds = []
  }

  /// Feeds stdin and drains the captured outputs until the child closes them (or
  /// `deadline` passes), in one poll loop, so a child that writes before it reads cannot
  /// block us both.
  mutating func exchange(until deadline: ContinuousClock.Instant?) -> (output: [UInt8], errors: [UInt8]) {
    var output: [UInt8] = []
    var errors: [UInt8] = []
    var open = [outputReader, errorReader].filter { $0 >= 0 }
    var writer = inputWriter
    inputWriter = -1
    var written = 0
    if writer >= 0 { _ = fcntl(writer, F_SETFL, fcntl(writer, F_GETFL) | O_NONBLOCK) }
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while !open.isEmpty || writer >= 0 {
      var descriptors = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
      if writer >= 0 { descriptors.append(pollfd(fd: writer, events: Int16(POLLOUT), revents: 0)) }
      let wait = deadline.map { Int32(clamping: max(0, ($0 - ContinuousClock.now).milliseconds)) } ?? -1
      let ready = poll(&descriptors, nfds_t(descriptors.count), wait)
      guard ready >= 0 || errno == EINTR else { break }
      if ready == 0 && wait >= 0 {
        open.forEach { close($0) }
        if writer >= 0 { close(writer) }
        break
      }
      for entry in descriptors where entry.revents != 0 {
        if entry.fd == writer {
          let count = input[written...].withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
          if count > 0 { written += count }
          if written == input.count || (count < 0 && errno != EINTR && errno != EAGAIN) {
            close(writer)
            writer = -1
          }
          continue
        }
        let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
        if count > 0 {
          if entry.fd == outputReader {
            output.append(contentsOf: chunk[0..<count])
          } else {
            errors.append(contentsOf: chunk[0..<count])
          }
        } else if count == 0 || errno != EINTR {
          close(entry.fd)
          open.removeAll { $0 == entry.fd }
        }
      }
    }
    return (output, errors)
  }

  mutating func release() {
    closeChildEnds()
    posix_spawn_file_actions_destroy(&actions)
    posix_spawnattr_destroy(&attributes)
  }
}

/// Calls `body` with `strings` as a NULL-terminated array of C strings.
private func withCStrings<Result>(
  _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result
) -> Result {
  let pointers = strings.map { strdup($0) } + [nil]
  defer { pointers.forEach { free($0) } }
  return body(pointers)
}

extension Duration {
  /// Whole milliseconds, rounded up.
  var milliseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
  }

  /// "3 s", "0.5 s": for messages.
  var secondsText: String {
    let (seconds, attoseconds) = components
    if attoseconds == 0 { return "\(seconds) s" }
    return "\(Double(seconds) + Double(attoseconds) / 1e18) s"
  }
}

extension String {
  func trimmingTrailingNewlines() -> String {
    var text = self
    while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
    return text
  }
}
