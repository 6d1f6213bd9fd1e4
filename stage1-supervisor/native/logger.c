/*
 * logger: the supervisor's side of an app's logger (stage1-supervisor/README.md, "Logs"). An app with a `log`
 * record gets pipes for its stdout and stderr (and, with `attach-stdin`, its stdin), whose other ends go to
 * /iomux, started here before the app and left to end on its own at EOF, once the app and everything it
 * started have closed them.
 */
#define _GNU_SOURCE
#include "logger.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int logger_stdio[3] = {-1, -1, -1};

static pid_t *pids; /* the loggers still running */
static size_t npids;

static void close_all(int fds[][2], int n) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < 2; j++)
      if (fds[i][j] >= 0) close(fds[i][j]);
}

int logger_start(const struct app *a) {
  if (!a->log) return 0;
  int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}; /* stdin, stdout, stderr */
  for (int i = a->attach_stdin ? 0 : 1; i < 3; i++)
    if (pipe2(p[i], O_CLOEXEC) < 0) return close_all(p, 3), isolate_fail(errno, "can't make the log pipes");
  pid_t *grown = realloc(pids, (npids + 1) * sizeof *pids);
  if (!grown) return close_all(p, 3), isolate_fail(ENOMEM, "can't start the logger");
  pids = grown;
  pid_t pid = fork();
  if (pid == 0) {
    char out[16], err[16], in[16], bytes[24], files[24];
    char *argv[16] = {"/iomux", "--log", (char *)a->log, "--stdout", out, "--stderr", err};
    int n = 7;
    snprintf(out, sizeof out, "%d", p[1][0]), snprintf(err, sizeof err, "%d", p[2][0]);
    snprintf(in, sizeof in, "%d", p[0][1]);
    if (a->log_max_bytes) snprintf(bytes, sizeof bytes, "%ld", a->log_max_bytes), argv[n++] = "--max-bytes", argv[n++] = bytes;
    if (a->log_max_files) snprintf(files, sizeof files, "%ld", a->log_max_files), argv[n++] = "--max-files", argv[n++] = files;
    if (a->attach) argv[n++] = "--attach", argv[n++] = (char *)a->attach;
    if (a->attach_stdin) argv[n++] = "--stdin", argv[n++] = in;
    for (int i = 0; i < 3; i++) /* our ends stay open across execve, the app's ends close */
      if (p[i][i == 0] >= 0) fcntl(p[i][i == 0], F_SETFD, 0);
    setpgid(0, 0); /* out of the foreground group: ^C goes to the app, and we end at EOF */
    isolate_reset_signals();
    char *envp[] = {NULL};
    execve(argv[0], argv, envp);
    fprintf(stderr, "supervisor: app \"%s\": can't execute /iomux: %s\n", a->name, strerror(errno));
    _exit(EXIT_INTERNAL);
  }
  if (pid < 0) return close_all(p, 3), isolate_fail(errno, "can't fork the logger");
  pids[npids++] = pid;
  for (int i = 0; i < 3; i++) { /* the app's ends wait for spawn; ours are the logger's now */
    logger_stdio[i] = p[i][i != 0];
    if (p[i][i == 0] >= 0) close(p[i][i == 0]);
  }
  return 0;
}

void logger_dup(void) {
  for (int i = 0; i < 3; i++)
    if (logger_stdio[i] >= 0) dup2(logger_stdio[i], i);
}

void logger_spawned(void) {
  for (int i = 0; i < 3; i++)
    if (logger_stdio[i] >= 0) close(logger_stdio[i]), logger_stdio[i] = -1;
}

void logger_reaped(pid_t pid) {
  for (size_t i = 0; i < npids; i++)
    if (pids[i] == pid) pids[i] = pids[--npids];
}

void logger_wait(long ms) {
  struct timespec tick = {0, 10 * 1000000};
  for (long waited = 0; npids && waited < ms; waited += 10) {
    pid_t pid;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) logger_reaped(pid);
    if (npids) nanosleep(&tick, NULL);
  }
  for (size_t i = 0; i < npids; i++) kill(pids[i], SIGKILL);
}
