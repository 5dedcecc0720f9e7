import Foundation
import Testing

extension Trait where Self == OwnThreads {
  /// Runs each test of the suite on threads of its own, outside Swift's cooperative pool.
  static var ownThreads: Self { OwnThreads() }
}

/// Runs each test case on threads of its own instead of Swift's cooperative pool.
///
/// The integration tests wait for processes (docker, dstack, registries) synchronously,
/// which holds a pool thread for the whole wait. The pool has one thread per core, so on a
/// two-core machine two such waits held every other test back, and the suites ran two
/// tests at a time whatever the engine was doing. On threads of their own they run side by
/// side, as many as `SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH` allows (scripts/test
/// sets it).
struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
  var isRecursive: Bool { true }

  func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    guard testCase != nil else { return try await function() }
    try await withTaskExecutorPreference(ThreadPerJob()) { try await function() }
  }
}

/// Runs every job on a new thread: a test's steps between two awaits, and each child task's,
/// so child tasks that wait for each other cannot deadlock on a shared thread.
private final class ThreadPerJob: TaskExecutor {
  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    let executor = asUnownedTaskExecutor()
    Thread { job.runSynchronously(on: executor) }.start()
  }
}
