/* Raw one-way write throughput over a unix socketpair: one write() per
 * message of 64 B and of 1 MiB to a reader that discards, the peer of
 * meshrun's one-way send(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds to write `count` messages of `size` bytes, until the reader has
 * taken them all (it answers one byte at the end). */
static double run(size_t size, long count) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    size_t want = size * (size_t)count, got = 0;
    char* buf = malloc(1 << 16);
    while (got < want) {
      ssize_t n = read(sv[1], buf, 1 << 16);
      if (n <= 0) _exit(1);
      got += (size_t)n;
    }
    char ok = 1;
    write(sv[1], &ok, 1);
    _exit(0);
  }
  close(sv[1]);
  char* msg = malloc(size);
  memset(msg, 'x', size);
  double t0 = now_s();
  for (long i = 0; i < count; ++i) {
    size_t done = 0;
    while (done < size) {
      ssize_t n = write(sv[0], msg + done, size - done);
      if (n <= 0) exit(1);
      done += (size_t)n;
    }
  }
  char ok;
  if (read(sv[0], &ok, 1) != 1) exit(1);
  double secs = now_s() - t0;
  close(sv[0]);
  waitpid(pid, NULL, 0);
  free(msg);
  return secs;
}

int main(int argc, char** argv) {
  long small = argc > 1 ? atol(argv[1]) : 1000000;
  long large = argc > 2 ? atol(argv[2]) : 2000;
  double s = run(64, small);
  double l = run(1 << 20, large);
  printf("unix_write64_msgs_per_s %.0f\nunix_write1m_bytes_per_s %.0f\n", small / s,
         (double)large * (1 << 20) / l);
  return 0;
}
