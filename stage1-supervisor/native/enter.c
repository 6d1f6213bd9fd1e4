/*
 * enter: runs a command in an app of a running pod (nspawn, or a kvm guest), with exactly the app's
 * isolation (`rkt enter`).
 *
 *   enter --conf FILE --app NAME --pid HOSTPID -- CMD [ARGS...]
 *
 * FILE is the pod's supervisor configuration (host path), NAME the app, HOSTPID the app's process as the
 * host sees it. Run on the host as root, we: re-execute from a sealed memfd copy of ourselves (run_sealed);
 * make ourselves non-dumpable, so nothing in the pod can
 * ptrace us or open /proc/<our pid>/exe while we are in its namespaces (CVE-2016-9962, CVE-2019-5736);
 * open /proc/HOSTPID once and everything else through it, so a recycled pid fails instead of naming
 * another process; join the app's cgroups in every hierarchy the host has mounted (CVE-2019-10147); join
 * its ipc, uts, net, pid, cgroup and mount namespaces, then its user namespace when it has its own
 * (--private-users); fork, since only children enter a pid namespace;
 * and in the child apply the app's configuration with the supervisor's own code (isolate.c: env, user,
 * groups, caps, no_new_privs, seccomp, cwd; CVE-2019-10144, CVE-2019-10145), close every fd above 2 on
 * exec and execvp CMD with the app's environment, PATH included, and the caller's TERM (vt100 without
 * one). The parent forwards SIGINT, SIGTERM,
 * SIGHUP and SIGQUIT to it (not those the terminal sent the whole process group, nor the child's own)
 * and exits with its code, 128+N if it was killed by signal N. Our own errors: "enter: ...", exit 254.
 */
#define _GNU_SOURCE
#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("enter: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(EXIT_INTERNAL);
}

/* A mount of a cgroup hierarchy on the host, from /proc/self/mountinfo. */
struct cgmount {
  char root[PATH_MAX], dir[PATH_MAX], type[16], opts[1024];
};

static struct cgmount *read_cgroup_mounts(size_t *n) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char *line = NULL, mntopts[1024];
  size_t cap = 0;
  struct cgmount *m = NULL, cur;
  if (!f) die("can't read /proc/self/mountinfo: %s", strerror(errno));
  *n = 0;
  while (getline(&line, &cap, f) > 0) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS */
    char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s %1023s", cur.root, cur.dir, mntopts) != 3 ||
        sscanf(sep + 3, "%15s %*s %1023s", cur.type, cur.opts) != 2)
      continue;
    /* cgroup.procs can't be written through a read-only mount (the pods' own views of the hierarchies) */
    if ((strcmp(cur.type, "cgroup") && strcmp(cur.type, "cgroup2")) || !strncmp(mntopts, "ro", 2)) continue;
    if (!(m = realloc(m, (*n + 1) * sizeof *m))) die("out of memory");
    m[(*n)++] = cur;
  }
  free(line);
  fclose(f);
  return m;
}

/* True when the superblock options opts (a list like "rw,cpu,cpuacct") have every controller of ctl. */
static int has_controllers(const char *opts, const char *ctl) {
  char copy[1024], *save = NULL;
  snprintf(copy, sizeof copy, "%s", ctl);
  for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
    size_t len = strlen(c);
    const char *p = opts;
    while (p && (strncmp(p, c, len) || (p[len] != ',' && p[len] != '\0')))
      p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    if (!p) return 0;
  }
  return 1;
}

/*
 * Moves us into the cgroups of the process whose /proc directory is proc. Each line of its cgroup file,
 * "ID:CONTROLLERS:PATH" ("0::PATH" for cgroup2), is matched to a writable host mount of that hierarchy
 * whose root contains PATH. A hierarchy the host has not mounted holds no limit we could apply: skipped.
 */
static void join_cgroups(int proc) {
  size_t nmounts;
  struct cgmount *mounts = read_cgroup_mounts(&nmounts);
  int fd = openat(proc, "cgroup", O_RDONLY | O_CLOEXEC);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
  char *line = NULL;
  size_t cap = 0;
  if (!f) die("can't read the app's cgroups: %s", strerror(errno));
  while (getline(&line, &cap, f) > 0) {
    char *ctl = strchr(line, ':'), *path = ctl ? strchr(ctl + 1, ':') : NULL;
    if (!path) die("unexpected line in the app's cgroup file: %s", line);
    *path++ = '\0';
    path[strcspn(path, "\n")] = '\0';
    ctl++;
    for (size_t i = 0; i < nmounts; i++) {
      const struct cgmount *m = &mounts[i];
      size_t rootlen = strcmp(m->root, "/") ? strlen(m->root) : 0;
      int match = *ctl ? !strcmp(m->type, "cgroup") && has_controllers(m->opts, ctl) : !strcmp(m->type, "cgroup2");
      if (!match || strncmp(path, m->root, rootlen) || (path[rootlen] && path[rootlen] != '/')) continue;
      char procs[PATH_MAX * 2];
      snprintf(procs, sizeof procs, "%s%s/cgroup.procs", m->dir, path + rootlen);
      int w = open(procs, O_WRONLY | O_CLOEXEC);
      if (w < 0 || write(w, "0", 1) != 1) die("can't join the app's cgroup %s: %s", procs, strerror(errno));
      close(w);
      break;
    }
  }
  free(line);
  free(mounts);
  fclose(f);
}

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable memfds must say so where vm.memfd_noexec is set */
#endif

/*
 * Re-executes us from a sealed in-memory copy of our binary, as runc does (CVE-2019-5736). Our child sits in
 * the pod's pid namespace from its fork to its exec, and a process of the pod holding CAP_SYS_PTRACE may
 * open /proc/<child>/exe meanwhile: reopened for writing once we are gone, it would rewrite the helper the
 * host runs at the next `rkt enter`. A memfd sealed against writes can't be rewritten, and is nobody's file.
 * Returns only when already running from one.
 */
static void run_sealed(char **argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) die("can't open our own binary: %s", strerror(errno));
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE)) {
    close(self);
    return;
  }
  int copy = memfd_create("rkt-enter", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (copy < 0 && errno == EINVAL) copy = memfd_create("rkt-enter", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0) die("can't make a sealed copy of our binary: %s", strerror(errno));
  for (;;) {
    ssize_t n = sendfile(copy, self, NULL, 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("can't copy our binary: %s", strerror(errno));
    if (n == 0) break;
  }
  if (fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
    die("can't seal the copy of our binary: %s", strerror(errno));
  close(self);
  fexecve(copy, argv, environ);
  die("can't run the sealed copy of our binary: %s", strerror(errno));
}

/* The app's user namespace, when it is not ours (a --private-users pod), else -1. */
static int open_userns(int proc) {
  struct stat app, self;
  int fd = openat(proc, "ns/user", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &app) < 0 || stat("/proc/self/ns/user", &self) < 0)
    die("can't open the app's user namespace: %s", strerror(errno));
  if (app.st_dev != self.st_dev || app.st_ino != self.st_ino) return fd;
  close(fd);
  return -1;
}

int main(int argc, char **argv) {
  run_sealed(argv);
  prctl(PR_SET_NAME, "enter"); /* run from a memfd, the kernel named us after its descriptor */
  prctl(PR_SET_DUMPABLE, 0);
  const char *file = NULL, *name = NULL, *pid = NULL;
  int i = 1;
  for (; i + 1 < argc && strcmp(argv[i], "--"); i += 2) {
    const char **opt = !strcmp(argv[i], "--conf")  ? &file
                       : !strcmp(argv[i], "--app") ? &name
                       : !strcmp(argv[i], "--pid") ? &pid
                                                   : NULL;
    if (!opt) die("unknown option \"%s\"", argv[i]);
    *opt = argv[i + 1];
  }
  if (!file || !name || !pid || i + 1 >= argc || strcmp(argv[i], "--"))
    die("usage: enter --conf FILE --app NAME --pid HOSTPID -- CMD [ARGS...]");
  char **cmd = argv + i + 1;
  if (strspn(pid, "0123456789") != strlen(pid) || atoi(pid) <= 0) die("invalid pid \"%s\"", pid);

  struct conf conf;
  if (conf_load(file, &conf) < 0) die("%s", isolate_error);
  struct app *a = conf_app(&conf, name);
  if (!a) die("no app \"%s\" in %s", name, file);

  char dir[32];
  snprintf(dir, sizeof dir, "/proc/%s", pid);
  int proc = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) die("can't find the app's process %s: %s", pid, strerror(errno));
  static const struct {
    const char *name;
    int type;
  } ns[] = {{"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
            {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS}};
  int nsfd[sizeof ns / sizeof *ns];
  for (size_t j = 0; j < sizeof ns / sizeof *ns; j++) {
    char path[32];
    snprintf(path, sizeof path, "ns/%s", ns[j].name);
    if ((nsfd[j] = openat(proc, path, O_RDONLY | O_CLOEXEC)) < 0)
      die("can't open the app's %s namespace: %s", ns[j].name, strerror(errno));
  }
  int user = open_userns(proc);
  join_cgroups(proc);
  for (size_t j = 0; j < sizeof ns / sizeof *ns; j++) {
    if (setns(nsfd[j], ns[j].type) < 0) die("can't join the app's %s namespace: %s", ns[j].name, strerror(errno));
    close(nsfd[j]);
  }
  /* Last: the pod's network namespace may be the host's or a CNI one the host owns, which a process in the
   * pod's user namespace has no right to join. Our uid, host root, means nothing in there until
   * isolate_apply sets the app's, which the namespace maps to the pod's range. */
  if (user >= 0 && setns(user, CLONE_NEWUSER) < 0) die("can't join the app's user namespace: %s", strerror(errno));
  close(proc);

  static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (size_t j = 0; j < sizeof forwarded / sizeof *forwarded; j++) sigaddset(&set, forwarded[j]);
  sigprocmask(SIG_BLOCK, &set, NULL);

  /* The caller's terminal type, which the command's output is for (vt100 when it has none), as rkt's enter. */
  const char *term = getenv("TERM");
  pid_t child = fork();
  if (child < 0) die("can't fork: %s", strerror(errno));
  if (child == 0) {
    environ = a->env.v; /* execvp searches the PATH of environ, and passes it on */
    /* Before isolate_apply: a seccomp filter may forbid what setenv's allocation needs. */
    if (setenv("TERM", term && *term ? term : "vt100", 1) < 0) die("out of memory");
    if (isolate_reset_signals() == 0 && isolate_apply(a) == 0) {
      execvp(cmd[0], cmd);
      isolate_fail(errno, "can't execute \"%s\"", cmd[0]);
    }
    die("%s", isolate_error);
  }
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&set, &si), status;
    if (sig < 0 && errno != EINTR) die("sigwaitinfo: %s", strerror(errno));
    if (sig > 0 && sig != SIGCHLD && si.si_code != SI_KERNEL && si.si_pid != child) kill(child, sig);
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child && WIFEXITED(status)) return WEXITSTATUS(status);
    if (r == child && WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  }
}
