/* The floor for launching N ranks: posix_spawn N /bin/true, then wait for all. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 32;
  char* args[] = {"/bin/true", NULL};
  for (int i = 0; i < n; ++i) {
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) {
      perror("posix_spawn");
      return 1;
    }
  }
  for (int i = 0; i < n; ++i)
    wait(NULL);
  return 0;
}
