/*
 * isolate: the supervisor configuration and an app's credentials and isolation (see isolate.h).
 *
 * The configuration is a sequence of NUL-terminated tokens: a key, then its value. Every key of version 1
 * has exactly one value (the README's arity column), so a record is always two tokens. Keys before the
 * first `app` are the pod's (`version`, first, `grace` and `mutable`); the others belong to the last `app`. An app
 * needs root, arg, uid, gid and caps; the rest have the defaults the README gives. Anything unexpected
 * (an unknown key, a key given twice, a bad number, a truncated file) is an error naming it.
 */
#define _GNU_SOURCE
#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

char isolate_error[1024];

int isolate_fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(isolate_error, sizeof isolate_error, fmt, ap);
  va_end(ap);
  if (err && n >= 0 && (size_t)n < sizeof isolate_error)
    snprintf(isolate_error + n, sizeof isolate_error - (size_t)n, ": %s", strerror(err));
  return -1;
}

static int oom(void) { return isolate_fail(0, "out of memory"); }

int strv_push(struct strv *s, char *item) {
  char **v = realloc(s->v, (s->n + 2) * sizeof *v);
  if (!v) return oom();
  s->v = v;
  v[s->n++] = item;
  v[s->n] = NULL;
  return 0;
}

/* A decimal number in [min, max]: strtol alone would accept "", " 7", "+7" and "7x". */
static int parse_long(const char *s, long min, long max, long *out) {
  const char *digits = s + (s[0] == '-');
  if (*digits < '0' || *digits > '9') return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*end || errno || v < min || v > max) return -1;
  *out = v;
  return 0;
}

/* (uid_t)-1 and (gid_t)-1 mean "unchanged" to the set*id calls: never valid ids. */
#define ID_MAX ((long)(uid_t)-2)

static int parse_groups(struct app *a, char *s) {
  size_t n = *s ? 1 : 0;
  for (const char *p = s; *p; p++) n += *p == ',';
  if (!(a->groups = calloc(n ? n : 1, sizeof(gid_t)))) return oom();
  for (char *item = s, *comma; n && item; item = comma ? comma + 1 : NULL) {
    long g;
    if ((comma = strchr(item, ','))) *comma = '\0';
    if (parse_long(item, 0, ID_MAX, &g) < 0)
      return isolate_fail(0, "app \"%s\": invalid group id \"%s\"", a->name, item);
    a->groups[a->ngroups++] = (gid_t)g;
  }
  return 0;
}

static int parse_caps(struct app *a, const char *s) {
  size_t len = strlen(s);
  if (len == 0 || len > 16 || strspn(s, "0123456789abcdefABCDEF") != len)
    return isolate_fail(0, "app \"%s\": invalid caps \"%s\" (a hex mask)", a->name, s);
  a->caps = strtoull(s, NULL, 16);
  return 0;
}

/* How a key's value is read, and where it goes. */
enum kind { PATH_, ARGV, ENV, LIST, NUMBER, FDS, GROUPS, CAPS, SECCOMP };
static const struct key {
  const char *name;
  enum kind kind;
  size_t field; /* offset in struct app */
  long min, max; /* NUMBER, FDS */
} app_keys[] = {
#define F(f) offsetof(struct app, f)
  {"root", PATH_, F(root), 0, 0},
  {"cwd", PATH_, F(cwd), 0, 0},
  {"arg", ARGV, F(argv), 0, 0},
  {"pre-start", ARGV, F(pre_start), 0, 0},
  {"post-stop", ARGV, F(post_stop), 0, 0},
  {"env", ENV, F(env), 0, 0},
  {"syscall", LIST, F(syscalls), 0, 0},
  {"uid", NUMBER, F(uid), 0, ID_MAX},
  {"gid", NUMBER, F(gid), 0, ID_MAX},
  {"no-new-privs", NUMBER, F(no_new_privs), 0, 1},
  {"readonly-rootfs", NUMBER, F(readonly_rootfs), 0, 1},
  {"mask-paths", NUMBER, F(mask_paths), 0, 1},
  {"interactive", NUMBER, F(interactive), 0, 1},
  {"notify", NUMBER, F(notify), 0, 1},
  {"socket-activated", NUMBER, F(socket_activated), 0, 1},
  {"seccomp-errno", NUMBER, F(seccomp_errno), 0, 4095},
  {"oom-score-adj", NUMBER, F(oom_score_adj), -1000, 1000},
  {"oom-fd", NUMBER, F(oom_fd), 3, 65535},
  {"cgroup-fd", FDS, F(cgroup_fds), 3, 65535},
  {"groups", GROUPS, F(groups), 0, 0},
  {"caps", CAPS, F(caps), 0, 0},
  {"seccomp", SECCOMP, F(seccomp), 0, 0},
  {"log", PATH_, F(log), 0, 0},
  {"log-max-bytes", NUMBER, F(log_max_bytes), 4096, LONG_MAX},
  {"log-max-files", NUMBER, F(log_max_files), 1, 1000},
  {"attach", PATH_, F(attach), 0, 0},
  {"attach-stdin", NUMBER, F(attach_stdin), 0, 1},
#undef F
};
#define NKEYS (sizeof app_keys / sizeof *app_keys)
_Static_assert(NKEYS <= 32, "struct app's given has a bit for each key");

static const struct key *find_key(const char *name) {
  for (size_t i = 0; i < NKEYS; i++)
    if (!strcmp(app_keys[i].name, name)) return &app_keys[i];
  return NULL;
}

static int given(const struct app *a, const char *name) { return (int)(a->given >> (find_key(name) - app_keys) & 1); }

/* Sets key k of app a to v. Keys that make lists may repeat, the others may not. */
static int app_key(struct app *a, const struct key *k, char *v) {
  void *field = (char *)a + k->field;
  unsigned bit = 1U << (k - app_keys);
  if (a->given & bit && k->kind != ARGV && k->kind != ENV && k->kind != LIST && k->kind != FDS)
    return isolate_fail(0, "app \"%s\": \"%s\" given twice", a->name, k->name);
  a->given |= bit;
  long n;
  switch (k->kind) {
  case PATH_: /* resolved after pivot_root, as are the programs: nothing to be relative to */
    if (v[0] != '/') return isolate_fail(0, "app \"%s\": %s \"%s\" is not an absolute path", a->name, k->name, v);
    *(const char **)field = v;
    return 0;
  case ARGV:
    if (!((struct strv *)field)->n && v[0] != '/')
      return isolate_fail(0, "app \"%s\": %s \"%s\" is not an absolute path", a->name, k->name, v);
    return strv_push(field, v);
  case ENV:
    if (v[0] == '=' || !strchr(v, '=')) return isolate_fail(0, "app \"%s\": env \"%s\" is not NAME=value", a->name, v);
    return strv_push(field, v);
  case LIST:
    return strv_push(field, v);
  case NUMBER:
  case FDS:
    if (parse_long(v, k->min, k->max, &n) < 0)
      return isolate_fail(0, "app \"%s\": invalid %s \"%s\" (%ld to %ld)", a->name, k->name, v, k->min, k->max);
    if (k->kind == NUMBER) return *(long *)field = n, 0;
    int *fds = realloc(a->cgroup_fds, (a->ncgroup_fds + 1) * sizeof *fds);
    if (!fds) return oom();
    (a->cgroup_fds = fds)[a->ncgroup_fds++] = (int)n;
    return 0;
  case GROUPS:
    return parse_groups(a, v);
  case CAPS:
    return parse_caps(a, v);
  case SECCOMP:
    if (!strcmp(v, "none")) a->seccomp = SECCOMP_NONE;
    else if (!strcmp(v, "remove")) a->seccomp = SECCOMP_REMOVE;
    else if (!strcmp(v, "retain")) a->seccomp = SECCOMP_RETAIN;
    else return isolate_fail(0, "app \"%s\": seccomp must be none, remove or retain, not \"%s\"", a->name, v);
    return 0;
  }
  return 0;
}

/* Checks that the app has what has no default. */
static int app_finish(struct app *a) {
  static const char *const required[] = {"root", "arg", "uid", "gid", "caps"};
  for (size_t i = 0; i < sizeof required / sizeof *required; i++)
    if (!given(a, required[i])) return isolate_fail(0, "app \"%s\": no \"%s\"", a->name, required[i]);
  if (a->interactive && (a->log || a->attach)) /* its stdio is the terminal's: there is nothing to log */
    return isolate_fail(0, "app \"%s\": \"interactive\" given with \"log\" or \"attach\"", a->name);
  if ((a->attach || a->attach_stdin) && !a->log) return isolate_fail(0, "app \"%s\": \"attach\" needs \"log\"", a->name);
  if (a->seccomp == SECCOMP_NONE && a->syscalls.n)
    return isolate_fail(0, "app \"%s\": syscall \"%s\" given with seccomp none", a->name, a->syscalls.v[0]);
  if (!a->env.v && !(a->env.v = calloc(1, sizeof(char *)))) return oom(); /* execve wants an array */
  return 0;
}

static int read_file(const char *file, char **buf, size_t *len) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) return isolate_fail(errno, "can't open \"%s\"", file);
  if (!(*buf = malloc((size_t)st.st_size + 1))) return close(fd), oom();
  for (*len = 0; *len < (size_t)st.st_size;) {
    ssize_t r = read(fd, *buf + *len, (size_t)st.st_size - *len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return close(fd), isolate_fail(r ? errno : 0, "can't read \"%s\"%s", file, r ? "" : ": it shrank");
    *len += (size_t)r;
  }
  close(fd);
  return 0;
}

/* Puts "file: " before the message of a failed app_key or app_finish. */
static int in_file(const char *file) {
  char msg[sizeof isolate_error];
  snprintf(msg, sizeof msg, "%s", isolate_error);
  return isolate_fail(0, "%s: %s", file, msg);
}

/* The pod's listening sockets (socket activation): once each, before the first app. */
static int pod_listen_key(struct conf *c, const struct app *a, const char *k, char *v) {
  int names = !strcmp(k, "listen-fdnames");
  if (a || (names ? c->listen_fdnames != NULL : c->listen_fds != 0))
    return isolate_fail(0, "\"%s\" must come once, before the apps", k);
  if (names) return c->listen_fdnames = v, 0;
  if (parse_long(v, 1, 1024, &c->listen_fds) < 0) return isolate_fail(0, "invalid listen-fds \"%s\" (1 to 1024)", v);
  return 0;
}

int conf_load(const char *file, struct conf *c) {
  char *buf = NULL;
  size_t len = 0;
  if (read_file(file, &buf, &len) < 0) return -1;
  if (len == 0 || buf[len - 1] != '\0') return isolate_fail(0, "%s: truncated (the last token has no NUL)", file);
  *c = (struct conf){.grace_ms = -1};
  struct app *a = NULL;
  for (size_t i = 0, rec = 0; i < len; rec++) {
    char *k = buf + i;
    i += strlen(k) + 1;
    if (i >= len) return isolate_fail(0, "%s: \"%s\" has no value", file, k);
    char *v = buf + i;
    i += strlen(v) + 1;
    const struct key *key = find_key(k);
    if (rec == 0 && strcmp(k, "version"))
      return isolate_fail(0, "%s: the first record must be \"version\", not \"%s\"", file, k);
    if (!strcmp(k, "version")) {
      if (rec) return isolate_fail(0, "%s: \"version\" given twice", file);
      if (strcmp(v, "1")) return isolate_fail(0, "%s: unsupported version \"%s\"", file, v);
    } else if (!strcmp(k, "grace")) {
      if (a || c->grace_ms != -1) return isolate_fail(0, "%s: \"grace\" must come once, before the apps", file);
      if (parse_long(v, 0, 86400000, &c->grace_ms) < 0)
        return isolate_fail(0, "%s: invalid grace \"%s\" (milliseconds)", file, v);
    } else if (!strcmp(k, "mutable")) {
      if (a || c->mutable) return isolate_fail(0, "%s: \"mutable\" must come once, before the apps", file);
      if (strcmp(v, "1")) return isolate_fail(0, "%s: invalid mutable \"%s\" (1)", file, v);
      c->mutable = 1;
    } else if (!strcmp(k, "listen-fds") || !strcmp(k, "listen-fdnames")) {
      if (pod_listen_key(c, a, k, v) < 0) return isolate_fail(0, "%s: %s", file, isolate_error);
    } else if (!strcmp(k, "app")) {
      if (a && app_finish(a) < 0) return in_file(file);
      if (!*v || conf_app(c, v)) return isolate_fail(0, "%s: app name \"%s\" is empty or repeated", file, v);
      struct app *apps = realloc(c->apps, (c->napps + 1) * sizeof *apps);
      if (!apps) return oom();
      c->apps = apps;
      a = &apps[c->napps++];
      *a = (struct app){.name = v, .cwd = "/", .mask_paths = 1, .oom_fd = -1, .seccomp = SECCOMP_NONE};
    } else if (!key) {
      return isolate_fail(0, "%s: unknown key \"%s\"", file, k);
    } else if (!a) {
      return isolate_fail(0, "%s: \"%s\" before the first app", file, k);
    } else if (app_key(a, key, v) < 0) {
      return in_file(file);
    }
  }
  if (c->grace_ms < 0) c->grace_ms = 10000;
  if (!a) return c->mutable ? 0 : isolate_fail(0, "%s: no app", file); /* a mutable pod may start empty */
  return app_finish(a) < 0 ? in_file(file) : 0;
}

struct app *conf_app(struct conf *c, const char *name) {
  for (size_t i = 0; i < c->napps; i++)
    if (!strcmp(c->apps[i].name, name)) return &c->apps[i];
  return NULL;
}

int isolate_reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (signal(sig, SIG_DFL) == SIG_ERR && errno != EINVAL) return isolate_fail(errno, "can't reset signal %d", sig);
  }
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) return isolate_fail(errno, "can't unblock signals");
  return 0;
}

/* The permitted capability set. glibc has no wrappers for capget and capset, and libcap is not needed. */
static int caps_get(uint64_t *permitted) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  *permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
  return 0;
}

static int caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {
    {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
    {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
  };
  return (int)syscall(SYS_capset, &h, d);
}

/*
 * The app's seccomp filter. libseccomp would set no_new_privs itself when loading; that is the app's
 * choice, so it is told not to (we hold CAP_SYS_ADMIN instead). Names libseccomp does not know, or that
 * are not syscalls of this architecture, are skipped. A retain set also gets capset and execve, which we
 * still call after loading the filter (appc: "the implementation may add the minimum lifecycle syscalls").
 */
static int load_seccomp(const struct app *a) {
  if (a->seccomp == SECCOMP_NONE) return 0;
  int retain = a->seccomp == SECCOMP_RETAIN;
  uint32_t deny = a->seccomp_errno ? SCMP_ACT_ERRNO((uint32_t)a->seccomp_errno) : SCMP_ACT_KILL_PROCESS;
  scmp_filter_ctx ctx = seccomp_init(retain ? deny : SCMP_ACT_ALLOW);
  if (!ctx) return isolate_fail(0, "can't create the seccomp filter");
  static const char *const lifecycle[] = {"capset", "execve"};
  size_t n = a->syscalls.n + (retain ? 2 : 0);
  int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  const char *name = "";
  for (size_t i = 0; !r && i < n; i++) {
    name = i < a->syscalls.n ? a->syscalls.v[i] : lifecycle[i - a->syscalls.n];
    int nr = seccomp_syscall_resolve_name(name);
    if (nr >= 0) r = seccomp_rule_add(ctx, retain ? SCMP_ACT_ALLOW : deny, nr, 0);
  }
  if (r) {
    seccomp_release(ctx);
    return isolate_fail(-r, "can't add syscall \"%s\" to the seccomp filter", name);
  }
  if ((r = seccomp_load(ctx))) isolate_fail(-r, "can't load the seccomp filter");
  seccomp_release(ctx);
  return r ? -1 : 0;
}

/*
 * In this order: oom_score_adj; fds above 2 close-on-exec (nothing of the supervisor's or the host's may
 * reach the app); bounding set = caps, while we still have CAP_SETPCAP; setgroups, setresgid and setresuid
 * with PR_SET_KEEPCAPS, which keeps the permitted set (the effective one is cleared when the uid changes);
 * permitted and effective = caps plus CAP_SYS_ADMIN, inheritable = caps, ambient = caps for a non-root
 * uid (a cap can be ambient only while permitted and inheritable); no_new_privs; chdir with these rights;
 * the seccomp filter, which CAP_SYS_ADMIN lets us install without no_new_privs; and last the final sets,
 * all = caps: dropping CAP_SYS_ADMIN from permitted leaves the other ambient caps in place. At execve, a
 * root app gets inheritable | bounding = caps, a non-root app its ambient caps = caps.
 */
int isolate_apply(const struct app *a) {
  if (given(a, "oom-score-adj")) {
    char buf[16];
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    int n = snprintf(buf, sizeof buf, "%ld", a->oom_score_adj);
    if (fd < 0 || write(fd, buf, (size_t)n) != n)
      return isolate_fail(errno, "can't set oom_score_adj to %ld", a->oom_score_adj);
    close(fd);
  }
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return isolate_fail(errno, "can't mark fds close-on-exec");

  int c = 0;
  for (int in; (in = prctl(PR_CAPBSET_READ, c)) >= 0; c++) {
    int keep = (int)(a->caps >> c & 1);
    if (keep && !in) return isolate_fail(0, "capability %d is not in our bounding set: the pod can't grant it", c);
    if (!keep && in && prctl(PR_CAPBSET_DROP, c) < 0)
      return isolate_fail(errno, "can't drop capability %d from the bounding set", c);
  }
  if (c < 64 && a->caps >> c)
    return isolate_fail(0, "caps %llx has capabilities this kernel lacks (its last is %d)",
                        (unsigned long long)a->caps, c - 1);

  if (prctl(PR_SET_KEEPCAPS, 1) < 0) return isolate_fail(errno, "can't keep capabilities across setuid");
  if (setgroups(a->ngroups, a->groups) < 0) return isolate_fail(errno, "can't set the supplementary groups");
  if (setresgid((gid_t)a->gid, (gid_t)a->gid, (gid_t)a->gid) < 0)
    return isolate_fail(errno, "can't set the gid to %ld", a->gid);
  if (setresuid((uid_t)a->uid, (uid_t)a->uid, (uid_t)a->uid) < 0)
    return isolate_fail(errno, "can't set the uid to %ld", a->uid);

  uint64_t permitted, admin;
  if (caps_get(&permitted) < 0) return isolate_fail(errno, "can't read the capability sets");
  admin = permitted & (1ULL << CAP_SYS_ADMIN);
  if (caps_set(a->caps | admin, a->caps | admin, a->caps) < 0)
    return isolate_fail(errno, "can't set the capability sets");
  for (c = 0; a->uid != 0 && c < 64; c++)
    if (a->caps >> c & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      return isolate_fail(errno, "can't make capability %d ambient", c);
  if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return isolate_fail(errno, "can't set no_new_privs");

  /* getcwd fails (ENOENT) when the directory is outside our root: a cwd of /proc/self/fd/N (CVE-2024-21626). */
  char cwd[4096];
  if (chdir(a->cwd) < 0) return isolate_fail(errno, "can't chdir to \"%s\"", a->cwd);
  if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/')
    return isolate_fail(ENOENT, "the working directory \"%s\" is outside the app's root", a->cwd);

  if (load_seccomp(a) < 0) return -1;
  if (caps_set(a->caps, a->caps, a->caps) < 0) return isolate_fail(errno, "can't set the final capability sets");
  return 0;
}
