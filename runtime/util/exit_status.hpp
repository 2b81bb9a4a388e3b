// meshrun's exit statuses: the one table. The code returns these names, and
// --help, meshrun(1), the README and configs/slurm.sbatch are tested against
// kExitStatusTable, so a status is written down in one place.
#pragma once

#include <array>
#include <string_view>

namespace meshrun::exit_status {

inline constexpr int kOk = 0;
// Without a controller: an actor failed, a cast failed or timed out.
// (A command rank's own status is passed through; see kTable.)
inline constexpr int kFailed = 1;
inline constexpr int kUsage = 2;  // usage or job spec error
// Every rank succeeded, but output could not be written (sysexits' EX_IOERR).
inline constexpr int kOutputLost = 74;
inline constexpr int kTimeout = 124;
inline constexpr int kLaunchFailed = 125;
inline constexpr int kNotExecutable = 126;
inline constexpr int kNotFound = 127;
inline constexpr int kSignalBase = 128;  // 128+N: killed by (or interrupted by) signal N

struct Row {
  std::string_view status;
  std::string_view meaning;
};

// In the order the README and meshrun(1) print it.
inline constexpr std::array kTable{
    Row{"0", "every rank (or the controller) succeeded"},
    Row{"the rank's status",
        "a command rank failed: the status of the lowest-numbered rank that "
        "failed; 128+N if it died of signal N"},
    Row{"1", "an actor failed, or a cast failed or timed out (no controller)"},
    Row{"2", "usage or job spec error"},
    Row{"74",
        "every rank succeeded, but some of their output could not be written (each "
        "error names the file and the rank)"},
    Row{"124", "--timeout (or job.timeout) expired"},
    Row{"125", "meshrun could not launch the job"},
    Row{"126", "the command is not executable"},
    Row{"127", "the command was not found"},
    Row{"128+N",
        "meshrun was interrupted by signal N (129 for SIGHUP, 130 for SIGINT, 143 for SIGTERM)"},
};

}  // namespace meshrun::exit_status
