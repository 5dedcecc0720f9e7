#define _GNU_SOURCE
#include "CSystemShims.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t forward_pid = 0;

static void forward_signal(int signal_number, siginfo_t *info, void *context) {
  (void)context;
  /* A terminal sends SIGINT/SIGQUIT to the whole foreground group, the child included. */
  int from_terminal = info != NULL && info->si_code == SI_KERNEL;
  if (forward_pid > 0 && !from_terminal) kill((pid_t)forward_pid, signal_number);
}

void dstack_forward_signals_to(pid_t pid) {
  static const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  struct sigaction action;
  memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  if (pid > 0) {
    /* A parent may have started dstack with these signals blocked (threads of many
       runtimes block them); unblock them so the user's Ctrl-C still arrives. */
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&forwarded, signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &forwarded, NULL);
    forward_pid = pid;
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
  } else {
    action.sa_handler = SIG_DFL;
  }
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &action, NULL);
  if (pid <= 0) forward_pid = 0;
}

int dstack_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path) {
  return posix_spawn_file_actions_addchdir_np(actions, path);
}

int dstack_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

typedef struct {
  char *bytes;
  size_t length;
} Buffer;

static size_t append_to_buffer(char *data, size_t size, size_t count, void *target) {
  Buffer *buffer = (Buffer *)target;
  size_t added = size * count;
  char *grown = realloc(buffer->bytes, buffer->length + added + 1);
  if (grown == NULL) return 0;
  memcpy(grown + buffer->length, data, added);
  buffer->bytes = grown;
  buffer->length += added;
  buffer->bytes[buffer->length] = 0;
  return added;
}

long dstack_unix_socket_get(const char *socket_path, const char *path, long timeout_seconds, char **body,
                          size_t *length, char *error, size_t error_size) {
  Buffer buffer = {NULL, 0};
  char url[4096];
  snprintf(url, sizeof url, "http://localhost%s", path);
  CURL *curl = curl_easy_init();
  if (curl == NULL) {
    snprintf(error, error_size, "cannot start libcurl");
    return -1;
  }
  char curl_error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buffer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
  long status = -1;
  CURLcode result = curl_easy_perform(curl);
  if (result == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  } else {
    snprintf(error, error_size, "%s", curl_error[0] ? curl_error : curl_easy_strerror(result));
  }
  curl_easy_cleanup(curl);
  *body = buffer.bytes;
  *length = buffer.length;
  return status;
}
