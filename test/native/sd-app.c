/* sd-app: an app that speaks systemd's protocols, as a socket-activated or Type=notify service does (busybox has
 * no applet for either).
 *   sd-app listen    prints LISTEN_FDS, LISTEN_FDNAMES and whether LISTEN_PID is its own pid, then on each socket
 *                    3 … 3+LISTEN_FDS-1 accepts one connection and writes "hello from fd N" to it; exits 0.
 *   sd-app notify    prints NOTIFY_SOCKET, sends READY=1 to it, then waits for SIGTERM and exits 0 on it.
 *   sd-app recv PATH binds a datagram socket at PATH and prints each datagram received, one per line (the unit's
 *                    notification socket, on the host).
 * Exits 1 saying which call failed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what) {
  perror(what);
  return 1;
}

static struct sockaddr_un addr(const char *path, socklen_t *len) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  if (path[0] == '@') a.sun_path[0] = '\0';
  *len = (socklen_t)(sizeof a.sun_family + strlen(path));
  return a;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 2 && !strcmp(argv[1], "listen")) {
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID"), *names = getenv("LISTEN_FDNAMES");
    if (!fds || !pid) return printf("Not socket activated\n"), 1;
    printf("LISTEN_FDS=%s LISTEN_FDNAMES=%s own-pid=%s\n", fds, names ? names : "", atoi(pid) == getpid() ? "yes" : "no");
    for (int fd = 3; fd < 3 + atoi(fds); fd++) {
      int c = accept(fd, NULL, NULL);
      if (c < 0) return fail("accept");
      char msg[64];
      int n = snprintf(msg, sizeof msg, "hello from fd %d\n", fd);
      if (write(c, msg, (size_t)n) != n) return fail("write");
      close(c);
    }
    return 0;
  }
  if (argc == 2 && !strcmp(argv[1], "notify")) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path) return printf("no NOTIFY_SOCKET\n"), 1;
    printf("NOTIFY_SOCKET=%s\n", path);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    socklen_t len;
    struct sockaddr_un a = addr(path, &len);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0 || sendto(s, "READY=1", 7, 0, (struct sockaddr *)&a, len) < 0) return fail("sendto");
    int sig;
    sigwait(&set, &sig);
    printf("got SIGTERM\n");
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "recv")) {
    socklen_t len;
    struct sockaddr_un a = addr(argv[2], &len);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, len) < 0) return fail("bind");
    printf("listening\n");
    for (char buf[4096];;) {
      ssize_t n = recv(s, buf, sizeof buf - 1, 0);
      if (n < 0) return fail("recv");
      buf[n] = '\0';
      printf("%s\n", buf);
    }
  }
  fprintf(stderr, "usage: sd-app listen | notify | recv PATH\n");
  return 2;
}
