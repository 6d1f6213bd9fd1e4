/* unix-socket PATH: binds a stream Unix socket at PATH, connects to it, sends a line through it and prints
 * what the listening side received: what a database server does with its socket (busybox has no applet for
 * Unix sockets). Exits 1 saying which call failed. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what) {
  perror(what);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) return fprintf(stderr, "usage: unix-socket PATH\n"), 2;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
  int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
  if (l < 0 || c < 0) return fail("socket");
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) return fail("bind");
  if (listen(l, 1) < 0) return fail("listen");
  if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) return fail("connect");
  if (write(c, "through-the-socket", 18) != 18) return fail("write");
  int s = accept(l, NULL, NULL);
  if (s < 0) return fail("accept");
  char buf[64] = {0};
  if (read(s, buf, sizeof buf - 1) <= 0) return fail("read");
  printf("%s\n", buf);
  return 0;
}
