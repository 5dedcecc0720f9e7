import CLuaShim
import Foundation

/// How a child process's output stream is connected.
public enum OutputMode: Sendable {
  /// Shares this process's stream (the user sees it live).
  case inherit
  /// Sent to this process's standard error (progress that must not pollute stdout).
  case standardError
  /// Collected and returned in the result.
  case capture
}

/// What a child process reads on standard input.
public enum InputMode: Sendable, Equatable {
  case inherit
  case null
  case bytes([UInt8])
}

/// How a finished process ended.
public struct ProcessResult: Sendable, CustomStringConvertible {
  /// The command that ran.
  public let argv: [String]
  /// The exit code, or 128 + the signal number when a signal ended it (as shells report).
  public let status: Int32
  /// Captured standard output (empty unless captured).
  public let stdout: [UInt8]
  /// Captured standard error (empty unless captured).
  public let stderr: [UInt8]

  public var succeeded: Bool { status == 0 }

  /// Captured standard output as text, without the final newline.
  public var output: String { String(decoding: stdout, as: UTF8.self).trimmingTrailingNewlines() }
  /// Captured standard error as text, without the final newline.
  public var errorOutput: String { String(decoding: stderr, as: UTF8.self).trimmingTrailingNewlines() }

  public var description: String { "`\(shellCommandLine(argv))` exited \(status): \(errorOutput)" }
}

/// A process could not be started.
public enum ProcessError: Error, CustomStringConvertible {
  case notFound(program: String)
  case cannotStart(program: String, reason: String)

  public var description: String {
    switch self {
    case .notFound(let program): "\(program): command not found (it is not on PATH)"
    case .cannotStart(let program, let reason): "\(program): cannot start: \(reason)"
    }
  }
}

/// Starts programs from argv arrays (never through a shell) and waits for them.
///
/// Captured output is drained concurrently, so a child writing more than a pipe
/// holds cannot deadlock. While a child shares the terminal, the signals this process
/// receives (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are passed on to it, and the child's
/// status becomes the result.
public struct ProcessRunner: Sendable {
  /// The environment children inherit (and where PATH is looked up).
  public let environment: [String: String]

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    self.environment = environment
  }

  /// Runs `argv` to completion.
  /// - Throws: `ProcessError` when the program cannot be found or started; a non-zero
  ///   exit is a result, not an error.
  public func run(
    _ argv: [String], stdin: InputMode = .null, stdout: OutputMode = .capture,
    stderr: OutputMode = .capture, directory: String? = nil, extraEnvironment: [String: String] = [:]
  ) throws(ProcessError) -> ProcessResult {
    guard let program = argv.first else { throw .cannotStart(program: "", reason: "empty command") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try executablePath(program))
    process.arguments = Array(argv.dropFirst())
    process.environment = environment.merging(extraEnvironment) { $1 }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }

    var inputPipe: Pipe?
    switch stdin {
    case .inherit: break
    case .null: process.standardInput = FileHandle.nullDevice
    case .bytes:
      inputPipe = Pipe()
      process.standardInput = inputPipe
    }
    let outputCollector = OutputCollector(stdout)
    let errorCollector = OutputCollector(stderr)
    if let target = outputCollector.target { process.standardOutput = target }
    if let target = errorCollector.target { process.standardError = target }

    fflush(nil)
    do {
      try process.run()
    } catch {
      throw .cannotStart(program: program, reason: error.localizedDescription)
    }
    let sharesTerminal = stdout == .inherit || stderr == .inherit || stdin == .inherit
    if sharesTerminal { clua_forward_signals_to(process.processIdentifier) }
    defer { if sharesTerminal { clua_forward_signals_to(0) } }

    outputCollector.start()
    errorCollector.start()
    if case .bytes(let bytes) = stdin, let inputPipe {
      DispatchQueue.global().async {
        try? inputPipe.fileHandleForWriting.write(contentsOf: bytes)
        try? inputPipe.fileHandleForWriting.close()
      }
    }
    process.waitUntilExit()
    let status =
      process.terminationReason == .uncaughtSignal
      ? 128 + process.terminationStatus : process.terminationStatus
    return ProcessResult(
      argv: argv, status: status, stdout: outputCollector.finish(), stderr: errorCollector.finish())
  }

  /// The absolute path of `program`, looked up on PATH unless it contains a slash.
  public func executablePath(_ program: String) throws(ProcessError) -> String {
    if program.contains("/") {
      guard FileManager.default.isExecutableFile(atPath: program) else { throw .notFound(program: program) }
      return program
    }
    let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
      let candidate = "\(directory)/\(program)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw .notFound(program: program)
  }
}

/// Connects one output stream of a child and, when capturing, drains it on a
/// background thread until end of file.
private final class OutputCollector: @unchecked Sendable {
  let target: Any?
  private let pipe: Pipe?
  private let done = DispatchSemaphore(value: 0)
  private var bytes: [UInt8] = []

  init(_ mode: OutputMode) {
    switch mode {
    case .inherit:
      pipe = nil
      target = nil
    case .standardError:
      pipe = nil
      target = FileHandle.standardError
    case .capture:
      let pipe = Pipe()
      self.pipe = pipe
      target = pipe
    }
  }

  func start() {
    guard let pipe else { return }
    DispatchQueue.global().async {
      self.bytes = Array((try? pipe.fileHandleForReading.readToEnd()) ?? Data())
      self.done.signal()
    }
  }

  func finish() -> [UInt8] {
    guard pipe != nil else { return [] }
    done.wait()
    return bytes
  }
}

extension String {
  func trimmingTrailingNewlines() -> String {
    var text = self
    while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
    return text
  }
}
