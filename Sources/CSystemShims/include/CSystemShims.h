// C helpers for what Swift cannot do or import: signal forwarding, the GNU extensions
// process spawning needs, and a libcurl GET over a unix socket (curl_easy_setopt is
// variadic).
#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <spawn.h>
#include <stddef.h>
#include <sys/types.h>

/// Sends SIGINT/SIGTERM/SIGHUP/SIGQUIT received by this process to `pid` (a child
/// in the same terminal session is not sent a signal the terminal already sent it).
/// `pid` 0 restores the default handlers.
void dstack_forward_signals_to(pid_t pid);

/// `posix_spawn_file_actions_addchdir_np` (glibc 2.29+): the child starts in `path`.
int dstack_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);

/// GET `http://localhost<path>` over the unix socket `socket_path` with libcurl.
/// Returns the HTTP status, or -1 with a message in `error` when no answer came.
/// `*body` is malloc'd (free it) and holds `*length` bytes.
long dstack_unix_socket_get(const char *socket_path, const char *path, long timeout_seconds, char **body,
                            size_t *length, char *error, size_t error_size);

/// `pipe2(fds, O_CLOEXEC)`: a pipe whose ends other children do not inherit.
int dstack_pipe_cloexec(int fds[2]);

#endif
