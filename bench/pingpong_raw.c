/* Blocking 64-byte ping-pong over a unix socketpair and over TCP loopback:
 * the raw round trip meshrun's messaging is compared with. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kSize = 64, kIters = 20000 };

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int full(int fd, char* buf, int write_side) {
  int done = 0;
  while (done < kSize) {
    ssize_t n =
        write_side ? write(fd, buf + done, kSize - done) : read(fd, buf + done, kSize - done);
    if (n <= 0) return -1;
    done += (int)n;
  }
  return 0;
}

static void echo(int fd) {
  char buf[kSize];
  while (full(fd, buf, 0) == 0 && full(fd, buf, 1) == 0) {
  }
  _exit(0);
}

static double run(int fd) {
  char buf[kSize];
  memset(buf, 'x', sizeof buf);
  for (int i = 0; i < 1000; ++i) {
    full(fd, buf, 1);
    full(fd, buf, 0);
  }
  double t0 = now_us();
  for (int i = 0; i < kIters; ++i) {
    full(fd, buf, 1);
    full(fd, buf, 0);
  }
  return (now_us() - t0) / kIters;
}

int main(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  if (fork() == 0) {
    close(sv[0]);
    echo(sv[1]);
  }
  close(sv[1]);
  double unix_us = run(sv[0]);
  close(sv[0]);
  wait(NULL);

  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(ls, (struct sockaddr*)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(ls, (struct sockaddr*)&a, &len);
  listen(ls, 1);
  if (fork() == 0) {
    int c = accept(ls, NULL, NULL);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    echo(c);
  }
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (struct sockaddr*)&a, sizeof a);
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  double tcp_us = run(c);
  close(c);
  wait(NULL);
  printf("unix_rtt_us %.2f\ntcp_rtt_us %.2f\n", unix_us, tcp_us);
  return 0;
}
