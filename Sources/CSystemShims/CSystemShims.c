#define _GNU_SOURCE
#include "CSystemShims.h"

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
