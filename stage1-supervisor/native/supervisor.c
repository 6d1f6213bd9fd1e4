/*
 * supervisor: PID 1 of an nspawn pod, and of a kvm pod's guest (stage1-supervisor/README.md is the contract).
 *
 *   /supervisor /rkt/supervisor.conf
 *
 * Starts every app at once, each in its own cgroups, mount and cgroup namespaces and root (its pre-start
 * handler first, when it has one), writes the status files the host reads, reaps every zombie of the
 * pod, runs the post-stop handlers, and ends the pod: when an app fails (exits non-zero or is killed) or
 * when we get SIGTERM or SIGINT, every app and pre-start handler still running gets SIGTERM (its whole
 * process group), and once the grace period has elapsed every process left in the pod gets SIGKILL (again
 * after each further grace period, for post-stop handlers started meanwhile). We exit when every app and
 * its handlers are done, with the first failing app's code, 0 if none failed, 254 for our own errors. An
 * app that cannot be set up, or whose pre-start handler fails, gets status 254 and counts as failed; an
 * app not started because the pod was stopping gets no status. Post-stop handlers run only for apps that
 * ran, and their exit codes are only reported.
 *
 * A process is forked with a close-on-exec pipe: the child writes why it failed to it, so EOF means the
 * exec happened and we block on the pipe only while the child sets itself up (mounts, no waiting on
 * anything). Each process is the leader of its own process group, which the fan-out signals whole.
 * We are not dumpable, so the apps (without CAP_SYS_PTRACE) can't open /proc/1/exe (CVE-2019-5736).
 */
#define _GNU_SOURCE
#include "isolate.h"
#include "logger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("supervisor: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- in the child: the app's root, in its own namespaces -------------------------------------------- */

/* A cgroup hierarchy mounted under the container's /sys/fs/cgroup ("" for a cgroup2 mounted right there). */
struct hierarchy {
  char *dir, *type, *opts;
};
static struct hierarchy *hierarchies;
static size_t nhierarchies;
static int have_console; /* nspawn made a /dev/console (--console=interactive) */

/*
 * Mounts on dir, relative to the app's root (our cwd), creating it if missing. It must be a directory and
 * not a symlink, which an image could aim anywhere in the pod (CVE-2019-19921, CVE-2026-41579): opened
 * with O_NOFOLLOW, the mount goes on that very directory through its /proc/self/fd link.
 */
static int mount_dir(const char *dir, const char *src, const char *type, unsigned long flags, const char *data) {
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return isolate_fail(errno, "can't create \"/%s\" in the app's root", dir);
  int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return isolate_fail(errno, "\"/%s\" in the app's root must be a directory", dir);
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  int r = mount(src, target, type, flags, data), err = errno;
  close(fd);
  if (r < 0) isolate_fail(err, "can't mount %s on \"/%s\"", type ? type : src, dir), errno = err;
  return r < 0 ? -1 : 0;
}

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* A read-only tmpfs holding a fresh, read-only mount of each hierarchy: made in the app's cgroup
 * namespace, each shows the app's own cgroup as its root and nothing above. */
static int mount_cgroups(void) {
  for (size_t i = 0; i < nhierarchies; i++) /* a unified host: cgroup2 right at /sys/fs/cgroup */
    if (!*hierarchies[i].dir)
      return mount_dir("sys/fs/cgroup", "cgroup2", "cgroup2", MS_RDONLY | NOSUID_NODEV_NOEXEC, hierarchies[i].opts);
  if (mount_dir("sys/fs/cgroup", "tmpfs", "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755") < 0) return -1;
  for (size_t i = 0; i < nhierarchies; i++) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "sys/fs/cgroup/%s", hierarchies[i].dir);
    if (mount_dir(dir, "cgroup", hierarchies[i].type, MS_RDONLY | NOSUID_NODEV_NOEXEC, hierarchies[i].opts) < 0)
      return -1;
  }
  /* Hosts with joint controllers have links such as cpu -> cpu,cpuacct: the app gets them too. */
  DIR *d = opendir("/sys/fs/cgroup");
  for (struct dirent *e; d && (e = readdir(d));) {
    char target[PATH_MAX], link[PATH_MAX];
    ssize_t n = e->d_type == DT_LNK ? readlinkat(dirfd(d), e->d_name, target, sizeof target - 1) : -1;
    if (n <= 0) continue;
    target[n] = '\0';
    snprintf(link, sizeof link, "sys/fs/cgroup/%s", e->d_name);
    if (symlink(target, link) < 0) return closedir(d), isolate_fail(errno, "can't create \"/%s\"", link);
  }
  if (d) closedir(d);
  if (mount(NULL, "sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | NOSUID_NODEV_NOEXEC, "mode=755") < 0)
    return isolate_fail(errno, "can't make /sys/fs/cgroup read-only");
  return 0;
}

/* A bind remount clears the flags it is not given: keep what the mount has, and add read-only. */
static int remount_ro(const char *path, const char *what) {
  struct statvfs vfs;
  unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
  if (statvfs(path, &vfs) < 0 || mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (vfs.f_flag & keep), NULL) < 0)
    return isolate_fail(errno, "can't make %s read-only", what);
  return 0;
}

/*
 * A fresh read-only sysfs. A user namespace that does not own the network namespace (a --private-users pod on
 * the host's network or a CNI one) may not mount one (EPERM): the container's own /sys, which nspawn set up
 * read-only, is bound instead, with its submounts (a non-recursive bind of locked mounts is refused).
 */
static int mount_sys(void) {
  if (mount_dir("sys", "sysfs", "sysfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL) == 0) return 0;
  if (errno != EPERM || mount_dir("sys", "/sys", NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
  return remount_ro("sys", "/sys");
}

/* A tmpfs with bind mounts of the container's standard nodes and /dev/pts, and the usual links. */
static int mount_dev(void) {
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty", "console"};
  static const char *const links[][2] = {
    {"pts/ptmx", "dev/ptmx"}, {"/proc/self/fd", "dev/fd"}, {"/proc/self/fd/0", "dev/stdin"},
    {"/proc/self/fd/1", "dev/stdout"}, {"/proc/self/fd/2", "dev/stderr"},
  };
  if (mount_dir("dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k") < 0) return -1;
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    char src[64], dst[64];
    snprintf(src, sizeof src, "/dev/%s", nodes[i]);
    snprintf(dst, sizeof dst, "dev/%s", nodes[i]);
    if (!strcmp(nodes[i], "console") && !have_console) continue;
    int fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) return isolate_fail(errno, "can't create \"/%s\"", dst);
    close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0) return isolate_fail(errno, "can't bind %s", src);
  }
  if (mount_dir("dev/pts", "/dev/pts", NULL, MS_BIND, NULL) < 0) return -1;
  if (mount_dir("dev/shm", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) return -1;
  for (size_t i = 0; i < sizeof links / sizeof *links; i++)
    if (symlink(links[i][0], links[i][1]) < 0) return isolate_fail(errno, "can't create \"/%s\"", links[i][1]);
  return 0;
}

/* A tmpfs on /tmp, unless a volume is there: then /tmp is another mount than the root. */
static int mount_tmp(void) {
  struct statx root, tmp;
  if (statx(AT_FDCWD, ".", 0, STATX_MNT_ID, &root) < 0) return isolate_fail(errno, "can't stat the app's root");
  if (statx(AT_FDCWD, "tmp", AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &tmp) == 0 && tmp.stx_mnt_id != root.stx_mnt_id)
    return 0;
  return mount_dir("tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* Kernel interfaces hidden (files under /dev/null, directories under an empty tmpfs) or made read-only. */
static int mask_paths(void) {
  static const char *const masked[] = {"proc/kcore", "proc/keys", "proc/timer_list", "proc/sched_debug",
                                       "proc/latency_stats", "proc/acpi", "proc/scsi", "sys/firmware"};
  static const char *const readonly[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus", "proc/fs"};
  struct stat st;
  for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
    const char *p = masked[i];
    if (lstat(p, &st) < 0) continue; /* not on this kernel */
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY | NOSUID_NODEV_NOEXEC, "mode=555")
                                : mount("/dev/null", p, NULL, MS_BIND, NULL);
    if (r < 0) return isolate_fail(errno, "can't mask /%s", p);
  }
  for (size_t i = 0; i < sizeof readonly / sizeof *readonly; i++) {
    const char *p = readonly[i];
    if (lstat(p, &st) < 0) continue;
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
        mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | NOSUID_NODEV_NOEXEC, NULL) < 0)
      return isolate_fail(errno, "can't make /%s read-only", p);
  }
  return 0;
}

/* README "What the supervisor does for each app", steps 1 and 2. */
static int setup(const struct app *a) {
  int null = a->interactive ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!a->interactive && (null < 0 || dup2(null, 0) < 0)) return isolate_fail(errno, "can't open /dev/null as stdin");
  for (size_t i = 0; i < a->ncgroup_fds; i++)
    if (write(a->cgroup_fds[i], "0", 1) != 1)
      return isolate_fail(errno, "can't join the app's cgroup (fd %d)", a->cgroup_fds[i]);
  if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
    return isolate_fail(errno, "can't create mount and cgroup namespaces");
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) return isolate_fail(errno, "can't make / a slave mount");
  if (mount(a->root, a->root, NULL, MS_BIND | MS_REC, NULL) < 0 || chdir(a->root) < 0)
    return isolate_fail(errno, "can't bind the app's root \"%s\"", a->root);
  if (mount_dir("proc", "proc", "proc", NOSUID_NODEV_NOEXEC, NULL) < 0) return -1;
  if (mount_sys() < 0 || mount_cgroups() < 0) return -1;
  if (mount_dev() < 0 || mount_tmp() < 0 || (a->mask_paths && mask_paths() < 0)) return -1;
  /* pivot_root(".", "."), then detach the old root stacked on the new one: no directory needed for it. */
  if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
    return isolate_fail(errno, "can't pivot_root into \"%s\"", a->root);
  return a->readonly_rootfs ? remount_ro("/", "the app's root") : 0;
}

static void __attribute__((noreturn)) child(const struct app *a, char **argv, int errfd) {
  setpgid(0, 0);
  /* Give an interactive app the terminal. From a background group, tcsetpgrp raises SIGTTOU, which would
   * stop us unless blocked (isolate_reset_signals unblocks it). Without a terminal, it fails: no matter. */
  if (a->interactive) {
    sigset_t ttou;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, NULL);
    tcsetpgrp(0, getpid());
  }
  if (isolate_reset_signals() == 0 && setup(a) == 0 && (logger_dup(), isolate_apply(a) == 0)) {
    execve(argv[0], argv, a->env.v);
    isolate_fail(errno, "can't execute \"%s\"", argv[0]);
  }
  /* If this fails, the parent sees EOF and takes the exit status (254) for the app's. */
  (void)!write(errfd, isolate_error, strlen(isolate_error));
  _exit(EXIT_INTERNAL);
}

/* ---- in PID 1 ---------------------------------------------------------------------------------------- */

/* True when path is a mount of its own rather than a directory of the mount holding "/". */
static int own_mount(const char *path) {
  struct statx root, p;
  return statx(AT_FDCWD, "/", 0, STATX_MNT_ID, &root) == 0 &&
         statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &p) == 0 && p.stx_mnt_id != root.stx_mnt_id;
}

/* Binds path on itself, making it a mount of its own (whose write access no longer follows "/"'s). */
static int bind_self(const char *path) {
  if (own_mount(path)) return 0;
  return mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ? isolate_fail(errno, "can't bind %s", path) : 0;
}

/*
 * Makes the stage1's own files read-only for the rest of the pod's life. The container's root is the pod's
 * stage1 rootfs, which an app holding CAP_SYS_PTRACE reaches as /proc/1/root: without this it could rewrite
 * our programs and files. What stays writable: /rkt, our records for the host (status, pids,
 * supervisor-status), except the files the host wrote there for us (this configuration and the apps'
 * environments in /rkt/env, which `rkt enter` reads back); and each app's root, made a mount of its own first
 * where it is only a directory of "/" (kvm's 9p root, --no-overlay).
 */
static int seal_stage1(const struct conf *c, const char *conf_file) {
  struct stat st;
  for (size_t i = 0; i < c->napps; i++)
    if (bind_self(c->apps[i].root) < 0) return -1;
  if (bind_self("/rkt") < 0) return -1;
  const char *host_files[] = {conf_file, "/rkt/env"};
  for (size_t i = 0; i < sizeof host_files / sizeof *host_files; i++) {
    if (stat(host_files[i], &st) < 0 && errno == ENOENT) continue;
    if (mount(host_files[i], host_files[i], NULL, MS_BIND, NULL) < 0)
      return isolate_fail(errno, "can't bind %s", host_files[i]);
    if (remount_ro(host_files[i], host_files[i]) < 0) return -1;
  }
  return remount_ro("/", "the stage1's root");
}

static struct conf conf;
enum state { PENDING, PRE_START, RUNNING, POST_STOP, DONE };
static struct run {
  enum state state;
  pid_t pid;
} *runs;
static size_t started;
static int stopping, failed, exit_code;
static int failure_stop; /* the pod is stopping because an app failed, not because we were asked to */
static struct timespec deadline; /* of the grace period, while stopping */

/* Forks a process running argv for app a; returns its pid once it has exec'd, or -1 (reported, reaped). */
static pid_t spawn(const struct app *a, char **argv, const char *what) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return warn("app \"%s\": can't start the %s: %s", a->name, what, strerror(errno)), -1;
  pid_t pid = fork();
  if (pid == 0) child(a, argv, p[1]);
  close(p[1]);
  char msg[sizeof isolate_error];
  size_t len = 0;
  while (pid > 0 && len < sizeof msg - 1) {
    ssize_t n = read(p[0], msg + len, sizeof msg - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(p[0]);
  if (pid < 0) return warn("app \"%s\": can't fork the %s: %s", a->name, what, strerror(errno)), -1;
  if (len == 0) return pid;
  msg[len] = '\0';
  warn("app \"%s\": can't start the %s: %s", a->name, what, msg);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  return -1;
}

/* Event handlers run as root (rkt's rule: its pre-start could prepare what the app's user may not), in the app's
 * root and within its isolation (capabilities, seccomp) like the app itself. */
static pid_t spawn_handler(const struct app *a, char **argv, const char *what) {
  struct app root = *a;
  root.uid = root.gid = 0, root.ngroups = 0;
  return spawn(&root, argv, what);
}

/* Writes content whole under path (temp file + rename): the host sees nothing or all of it. */
static void write_file(const char *dir, const char *name, const char *content) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644), err = 0;
  size_t len = strlen(content);
  if (fd < 0 || write(fd, content, len) != (ssize_t)len) err = errno;
  if (fd >= 0 && close(fd) < 0 && !err) err = errno;
  if (!err && rename(tmp, path) < 0) err = errno;
  if (err) warn("can't write %s: %s", path, strerror(err)), unlink(tmp);
}

static void write_number(const char *dir, const char *name, long n) {
  char buf[32];
  snprintf(buf, sizeof buf, "%ld", n);
  write_file(dir, name, buf);
}

/* An empty file named <app><suffix> in /rkt/status, whose mtime the host reads. */
static void touch_status(const struct app *a, const char *suffix) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "/rkt/status/%s%s", a->name, suffix);
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0 || futimens(fd, NULL) < 0) warn("can't write %s: %s", path, strerror(errno));
  if (fd >= 0) close(fd);
}

/* True when the app's memory cgroup counts an OOM kill: a line "oom_kill N", N > 0, in
 * memory.oom_control (v1) or memory.events (v2). */
static int oom_killed(const struct app *a) {
  char buf[4096];
  ssize_t n = a->oom_fd < 0 ? -1 : pread((int)a->oom_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  for (char *p = buf; (p = strstr(p, "oom_kill ")); p++)
    if (p == buf || p[-1] == '\n') return strtol(p + 9, NULL, 10) > 0;
  return 0;
}

static void arm_deadline(void) {
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += conf.grace_ms / 1000;
  deadline.tv_nsec += conf.grace_ms % 1000 * 1000000;
  if (deadline.tv_nsec >= 1000000000) deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
}

/* Starts the fan-out: SIGTERM to the apps and pre-start handlers, SIGKILL to everything after grace. */
static void stop(void) {
  if (stopping) return;
  stopping = 1;
  arm_deadline();
  for (size_t i = 0; i < conf.napps; i++)
    if (runs[i].state == PRE_START || runs[i].state == RUNNING) kill(-runs[i].pid, SIGTERM);
}

static void fail(int code) {
  if (!failed) failed = 1, exit_code = code;
  if (!stopping) failure_stop = 1;
  stop();
}

/* The app ended with code: its status file (after the OOM marker), then its post-stop handler if it ran. */
static void app_ended(size_t i, int code, int ran, int oom) {
  const struct app *a = &conf.apps[i];
  if (oom) touch_status(a, ".oom");
  write_number("/rkt/status", a->name, code);
  if (code) fail(code);
  runs[i].state = DONE;
  if (ran && a->post_stop.n && (runs[i].pid = spawn_handler(a, a->post_stop.v, "post-stop handler")) > 0)
    runs[i].state = POST_STOP;
}

static void start_app(size_t i) {
  const struct app *a = &conf.apps[i];
  if (logger_start(a) < 0) return warn("app \"%s\": %s", a->name, isolate_error), app_ended(i, EXIT_INTERNAL, 0, 0);
  pid_t pid = spawn(a, a->argv.v, "app");
  logger_spawned();
  if (pid < 0) return app_ended(i, EXIT_INTERNAL, 0, 0);
  runs[i] = (struct run){RUNNING, pid};
  write_number("/rkt/pids", a->name, pid);
  touch_status(a, "-started");
  if (++started < conf.napps) return;
  const char *tmp = "/rkt/.supervisor-status.tmp";
  unlink(tmp);
  if (symlink("ready", tmp) < 0 || rename(tmp, "/rkt/supervisor-status") < 0)
    warn("can't make /rkt/supervisor-status: %s", strerror(errno));
}

static void reaped(pid_t pid, int status) {
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (size_t i = 0; i < conf.napps; i++) {
    const struct app *a = &conf.apps[i];
    if (runs[i].pid != pid || runs[i].state == DONE) continue;
    switch (runs[i].state) {
    case RUNNING:
      /* A sibling of a failed app that ends on our SIGTERM did nothing wrong: it reports 0, as under rkt (its
       * TestExitCodeWithSeveralApps). Stopped on request (rkt stop), it reports 143. */
      if (failure_stop && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) code = 0;
      app_ended(i, code, 1, WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_killed(a));
      break;
    case PRE_START:
      if (stopping) runs[i].state = DONE; /* the pod is ending (and we signalled it): the app never starts */
      else if (code) {
        warn("app \"%s\": the pre-start handler exited with %d", a->name, code);
        app_ended(i, EXIT_INTERNAL, 0, 0);
      }
      else start_app(i);
      break;
    case POST_STOP:
      if (code) warn("app \"%s\": the post-stop handler exited with %d", a->name, code);
      runs[i].state = DONE;
      break;
    case PENDING:
    case DONE:
      break;
    }
    return;
  }
}

/* The cgroup hierarchies nspawn mounted for the container, which each app gets its own view of. */
static void read_hierarchies(void) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char *line = NULL, mnt[PATH_MAX], type[16], opts[1024];
  size_t cap = 0;
  if (!f) warn("can't read /proc/self/mountinfo: %s", strerror(errno)), exit(EXIT_INTERNAL);
  while (getline(&line, &cap, f) > 0) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS */
    char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 || sscanf(sep + 3, "%15s %*s %1023s", type, opts) != 2)
      continue;
    if (strcmp(type, "cgroup") && strcmp(type, "cgroup2")) continue;
    if (strncmp(mnt, "/sys/fs/cgroup", 14) || (mnt[14] && mnt[14] != '/')) continue;
    /* The superblock's options name the hierarchy; drop rw and the v1 release_agent (the host's). */
    char keep[sizeof opts] = "", *save = NULL;
    for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
      if (strcmp(o, "rw") && strcmp(o, "ro") && strncmp(o, "release_agent=", 14))
        snprintf(keep + strlen(keep), sizeof keep - strlen(keep), "%s%s", *keep ? "," : "", o);
    struct hierarchy *h = realloc(hierarchies, (nhierarchies + 1) * sizeof *h);
    const char *dir = mnt[14] ? mnt + 15 : "";
    if (!h || !(h[nhierarchies] = (struct hierarchy){strdup(dir), strdup(type), strdup(keep)}).opts)
      warn("out of memory"), exit(EXIT_INTERNAL);
    hierarchies = h;
    nhierarchies++;
  }
  free(line);
  fclose(f);
}

int main(int argc, char **argv) {
  prctl(PR_SET_DUMPABLE, 0);
  if (argc != 2) return warn("usage: supervisor /rkt/supervisor.conf"), EXIT_INTERNAL;
  if (conf_load(argv[1], &conf) < 0) return warn("%s", isolate_error), EXIT_INTERNAL;
  if (!(runs = calloc(conf.napps, sizeof *runs))) return warn("out of memory"), EXIT_INTERNAL;
  read_hierarchies();
  if (seal_stage1(&conf, argv[1]) < 0) return warn("%s", isolate_error), EXIT_INTERNAL;
  struct stat st;
  have_console = stat("/dev/console", &st) == 0 && S_ISCHR(st.st_mode);
  /* The apps die with us (we are PID 1 of the pod's PID namespace, or in its VM): one that started and has no
   * status once the pod has exited was killed with us, and the host may say so (docs/stage1.md). */
  int die_with = open("/rkt/status/.apps-die-with-supervisor", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (die_with >= 0) close(die_with);

  /* Blocked, the signals wait for sigtimedwait; PID 1 would otherwise ignore those sent from inside. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);

  for (size_t i = 0; i < conf.napps; i++) {
    const struct app *a = &conf.apps[i];
    touch_status(a, "-created");
    if (stopping) runs[i].state = DONE;
    else if (!a->pre_start.n) start_app(i);
    else if ((runs[i].pid = spawn_handler(a, a->pre_start.v, "pre-start handler")) > 0) runs[i].state = PRE_START;
    else app_ended(i, EXIT_INTERNAL, 0, 0);
  }
  for (;;) {
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) logger_reaped(pid), reaped(pid, status);
    size_t done = 0;
    for (size_t i = 0; i < conf.napps; i++) done += runs[i].state == DONE;
    if (done == conf.napps) return logger_wait(2000), exit_code; /* the apps' last lines, logged */

    struct timespec now, left = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (deadline.tv_sec - now.tv_sec) * 1000000000LL + (deadline.tv_nsec - now.tv_nsec);
    if (ns > 0) left = (struct timespec){ns / 1000000000, ns % 1000000000};
    int sig = sigtimedwait(&set, NULL, stopping ? &left : NULL);
    if (sig == SIGTERM || sig == SIGINT) stop();
    if (sig < 0 && errno == EAGAIN) { /* the grace period is over */
      kill(-1, SIGKILL);
      arm_deadline(); /* again, for the post-stop handlers started since */
    }
  }
}
