#include "process/mpi_probe.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>

#include "process/spawn.hpp"

namespace meshrun {

namespace {

struct File {
  int fd = -1;
  explicit File(const std::string& path) : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~File() {
    if (fd >= 0) ::close(fd);
  }
  bool read_at(void* buf, size_t n, uint64_t off) const {
    return ::pread(fd, buf, n, static_cast<off_t>(off)) == static_cast<ssize_t>(n);
  }
};

template <class Ehdr, class Phdr, class Dyn>
std::optional<std::vector<std::string>> needed_of(const File& f) {
  Ehdr eh;
  if (!f.read_at(&eh, sizeof eh, 0) || eh.e_phentsize != sizeof(Phdr) || eh.e_phnum > 4096)
    return std::nullopt;
  std::vector<Phdr> ph(eh.e_phnum);
  if (!f.read_at(ph.data(), ph.size() * sizeof(Phdr), eh.e_phoff)) return std::nullopt;
  const Phdr* dyn = nullptr;
  for (const auto& p : ph)
    if (p.p_type == PT_DYNAMIC) dyn = &p;
  if (!dyn || dyn->p_filesz > (1u << 20)) return std::nullopt;  // static, or absurd
  std::vector<Dyn> d(dyn->p_filesz / sizeof(Dyn));
  if (!f.read_at(d.data(), d.size() * sizeof(Dyn), dyn->p_offset)) return std::nullopt;
  uint64_t strtab = 0, strsz = 0;
  std::vector<uint64_t> needed;
  for (const auto& e : d) {
    if (e.d_tag == DT_NULL) break;
    if (e.d_tag == DT_STRTAB) strtab = e.d_un.d_ptr;
    if (e.d_tag == DT_STRSZ) strsz = e.d_un.d_val;
    if (e.d_tag == DT_NEEDED) needed.push_back(e.d_un.d_val);
  }
  // The string table's address, as a file offset through the load segments.
  std::optional<uint64_t> off;
  for (const auto& p : ph)
    if (p.p_type == PT_LOAD && strtab >= p.p_vaddr && strtab < p.p_vaddr + p.p_filesz)
      off = strtab - p.p_vaddr + p.p_offset;
  if (!off || strsz == 0 || strsz > (4u << 20)) return std::vector<std::string>{};
  std::string table(strsz, '\0');
  if (!f.read_at(table.data(), table.size(), *off)) return std::nullopt;
  std::vector<std::string> out;
  for (uint64_t i : needed)
    if (i < table.size()) out.emplace_back(table.c_str() + i);
  return out;
}

std::string base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Programs that load code named at run time: any of them may import an MPI
// binding (mpi4py, Rmpi, MPI.jl, ...).
bool is_interpreter(std::string_view name) {
  static constexpr std::array<std::string_view, 22> kNames = {
      "python", "pypy", "perl",   "ruby",  "julia",  "R",  "Rscript", "node",
      "java",   "lua",  "luajit", "tclsh", "octave", "sh", "bash",    "dash",
      "zsh",    "ksh",  "mksh",   "fish",  "tcsh",   "csh"};
  for (auto n : kNames)
    if (name == n || (name.starts_with(n) && name.size() > n.size() &&
                      (std::isdigit(static_cast<unsigned char>(name[n.size()])) ||
                       name[n.size()] == '-' || name[n.size()] == '.')))
      return true;
  return false;
}

}  // namespace

std::string mpi_library_linked(const std::string& path) {
  auto needed = elf_needed(path);
  if (!needed) return {};
  for (const auto& lib : *needed)
    if (is_mpi_library(lib)) return lib;
  return {};
}

namespace {

enum class Kind { missing, plain, mpi, dynamic_code };

// `lib` gets the MPI library of an ELF that links one.
Kind judge(const std::string& path, std::string& lib) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return Kind::missing;
  File f(path);
  if (f.fd < 0) return Kind::dynamic_code;  // cannot tell: assume it may
  char magic[4] = {};
  if (!f.read_at(magic, 4, 0)) return Kind::plain;
  if (magic[0] == '#' && magic[1] == '!') return Kind::dynamic_code;  // a script
  if (std::memcmp(magic, ELFMAG, SELFMAG) != 0) return Kind::plain;
  if (is_interpreter(base_name(path))) return Kind::dynamic_code;
  lib = mpi_library_linked(path);
  return lib.empty() ? Kind::plain : Kind::mpi;
}

}  // namespace

std::optional<std::vector<std::string>> elf_needed(const std::string& path) {
  File f(path);
  if (f.fd < 0) return std::nullopt;
  unsigned char ident[EI_NIDENT] = {};
  if (!f.read_at(ident, sizeof ident, 0) || std::memcmp(ident, ELFMAG, SELFMAG) != 0)
    return std::nullopt;
  const bool little = ident[EI_DATA] == ELFDATA2LSB;
  if (little != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)) return std::nullopt;
  if (ident[EI_CLASS] == ELFCLASS64) return needed_of<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(f);
  if (ident[EI_CLASS] == ELFCLASS32) return needed_of<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(f);
  return std::nullopt;
}

bool is_mpi_library(std::string_view soname) {
  soname = std::string_view(soname).substr(soname.rfind('/') + 1);
  return soname.starts_with("libmpi.so") || soname.starts_with("libmpi_") ||
         soname.starts_with("libmpich") || soname.starts_with("libmpicxx") ||
         soname.starts_with("libmpifort") || soname.starts_with("libpmix.so") ||
         soname.starts_with("libopen-rte.so") || soname.starts_with("libopen-pal.so");
}

std::string mpi_library_mapped(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string name = base_name(std::string_view(line).substr(slash));
    // The MPI library itself, not a helper like libpmix loaded by it.
    if (is_mpi_library(name) && !name.starts_with("libpmix") && !name.starts_with("libopen-")) {
      // libmpi.so.40.30.4 -> libmpi.so.40, as it is linked.
      auto so = name.find(".so.");
      if (so != std::string::npos) name = name.substr(0, name.find('.', so + 4));
      return name;
    }
  }
  return {};
}

CommandMpi command_mpi(const std::vector<std::string>& argv, const std::string& path_env,
                       const std::string& cwd) {
  CommandMpi out;
  if (argv.empty()) return out;
  auto resolve = [&](const std::string& word) -> std::string {
    if (word.find('/') == std::string::npos) return find_in_path(word, path_env);
    if (word[0] == '/' || cwd.empty()) return word;
    return cwd + "/" + word;
  };
  const Kind first = judge(resolve(argv[0]), out.linked);
  // One that cannot be found here (it may exist only on the hosts) may.
  out.may_load = first == Kind::missing || first == Kind::dynamic_code;
  if (first != Kind::plain) return out;
  // A plain program may be a wrapper (env, numactl, taskset, time, nice ...)
  // of one its arguments name.
  for (size_t i = 1; i < argv.size() && out.linked.empty() && !out.may_load; ++i) {
    const std::string& w = argv[i];
    if (w.empty() || w[0] == '-' || w.find('=') != std::string::npos) continue;
    const std::string path = resolve(w);
    if (path.empty() || ::access(path.c_str(), X_OK) != 0) continue;
    out.may_load = judge(path, out.linked) == Kind::dynamic_code;
  }
  return out;
}

bool may_use_pmix(const std::vector<std::string>& argv, const std::string& path_env,
                  const std::string& cwd) {
  const CommandMpi c = command_mpi(argv, path_env, cwd);
  return c.may_load || !c.linked.empty();
}

}  // namespace meshrun
