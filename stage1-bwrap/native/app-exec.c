/*
 * app-exec: the last step of every process of a bwrap pod (an app, an event handler, an entered command),
 * run as root inside the app's sandbox:
 *
 *   app-exec CGROUP_FDS UID GID GROUPS DIR PROGRAM [ARGS...]
 *
 * It joins the app's cgroups by writing to the inherited descriptors CGROUP_FDS (comma-separated: the
 * sandbox has no cgroupfs; bwrap itself stays outside them, so `rkt stop` signals the app, not bwrap), closes
 * every other descriptor, cuts the capability bounding set down to its permitted set (bwrap run as root leaves
 * it full, and a file capability in the image would then grant any capability), takes the app's groups, gid
 * and uid (bwrap sets no user without a user namespace), changes into DIR and execs PROGRAM (an absolute
 * path). Its own failures exit 254.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(254);
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: app-exec CGROUP_FDS UID GID GROUPS DIR PROGRAM [ARGS...]\n");
    return 254;
  }
  for (char *s = argv[1], *t; (t = strsep(&s, ",")) != NULL;)
    if (*t && write(atoi(t), "0", 1) != 1) die("app-exec: joining the app's cgroup");
  close_range(3, ~0U, 0);
  struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct caps[2];
  if (syscall(SYS_capget, &head, caps) != 0) die("app-exec: capget");
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
    if (!(caps[cap / 32].permitted >> (cap % 32) & 1) && prctl(PR_CAPBSET_DROP, cap) != 0)
      die("app-exec: cutting the capability bounding set");
  gid_t *groups = calloc(strlen(argv[4]) / 2 + 1, sizeof(gid_t));
  size_t n = 0;
  for (char *s = argv[4], *t; groups && (t = strsep(&s, ",")) != NULL;)
    if (*t) groups[n++] = (gid_t)strtoul(t, NULL, 10);
  if (!groups || setgroups(n, groups) || setgid((gid_t)strtoul(argv[3], NULL, 10)) ||
      setuid((uid_t)strtoul(argv[2], NULL, 10)))
    die("app-exec: taking the app's user");
  if (chdir(argv[5]) != 0) die(argv[5]);
  execv(argv[6], argv + 6);
  die(argv[6]);
}
