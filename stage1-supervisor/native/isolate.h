/*
 * isolate: what the supervisor and the enter helper share: the supervisor configuration
 * (stage1-supervisor/README.md, "The supervisor configuration") and the credentials and isolation of an app,
 * applied by the same code when the app starts and when `rkt enter` runs a command in it.
 */
#ifndef RKT_ISOLATE_H
#define RKT_ISOLATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 254: rkt's exit code for its own errors (an app that could not be set up, a bad configuration). */
#define EXIT_INTERNAL 254

/* A NULL-terminated string vector (argv, envp), growing as tokens are read. */
struct strv {
  char **v;
  size_t n;
};

/* Appends item (kept, not copied). */
int strv_push(struct strv *s, char *item);

/* Appends item (kept, not copied). */
int strv_push(struct strv *s, char *item);

enum seccomp_mode { SECCOMP_NONE, SECCOMP_REMOVE, SECCOMP_RETAIN };

struct app {
  const char *name, *root, *cwd;
  const char *log, *attach; /* README "Logs": the app's CRI log file and attach directory (NULL: none) */
  long log_max_bytes, log_max_files, attach_stdin; /* 0: iomux's defaults */
  struct strv argv, env, pre_start, post_stop, syscalls;
  long uid, gid, no_new_privs, readonly_rootfs, mask_paths, interactive;
  long notify, socket_activated; /* systemd: a notification socket; the pod's listening sockets */
  long seccomp_errno; /* 0: kill the process */
  long oom_score_adj; /* only if given */
  long oom_fd;        /* -1: none */
  gid_t *groups;
  size_t ngroups;
  uint64_t caps;
  int seccomp; /* an enum seccomp_mode */
  int *cgroup_fds;
  size_t ncgroup_fds;
  unsigned given; /* a bit for each key of the app seen (isolate.c's app_keys) */
};

struct conf {
  long grace_ms;
  int mutable; /* apps are added, started, stopped and removed through the control socket */
  long listen_fds;             /* the unit's listening sockets: our fds 3 .. 3+listen_fds-1 */
  const char *listen_fdnames; /* or NULL */
  struct app *apps;
  size_t napps;
};

/* The last error of the functions below, without a prefix: the caller prints it as it sees fit. */
extern char isolate_error[1024];

/* Records an error message (with ": strerror(err)" appended when err is not 0) and returns -1. */
int isolate_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads and checks the configuration file. */
int conf_load(const char *file, struct conf *c);

/* The app named name, or NULL. */
struct app *conf_app(struct conf *c, const char *name);

/* Default dispositions for every signal and an empty mask: ignored signals would survive execve. */
int isolate_reset_signals(void);

/*
 * Applies the app's oom_score_adj, credentials and isolation to the calling process, marks every fd above 2
 * close-on-exec and changes to the app's working directory: what is left to do is the execve, and, with a
 * `retain` seccomp set, that is allowed (with capset, the last call made here) whatever the set lists.
 */
int isolate_apply(const struct app *a);

#endif
