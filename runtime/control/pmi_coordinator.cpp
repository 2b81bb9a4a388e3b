#include "control/pmi_coordinator.hpp"

#include <cstdlib>

#include "channel/address.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
bool has_env(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env)
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return true;
  return false;
}
}  // namespace

PmiCoordinator::PmiCoordinator(asio::io_context& io, HostSet& hosts, JobState& job)
    : hosts_(hosts), job_(job), changed_(io.get_executor()), names_(io) {
  job_.watch(changed_);
}

void PmiCoordinator::on_name_request(uint32_t host, const NameRequest& request) {
  names_.handle(request, [this, host](const NameReply& reply) {
    if (!hosts_.shutting_down()) hosts_.send(host, reply);
  });
}

void PmiCoordinator::on_barrier_in(uint32_t host, PmiBarrierIn&& in) {
  if (entered_.size() != hosts_.size()) entered_.assign(hosts_.size(), false);
  if (in.host_rank != host || host >= entered_.size() || in.epoch != epoch_ || entered_[host]) {
    job_.fail({"host " + std::to_string(host) + " entered PMI barrier " + std::to_string(in.epoch) +
                   " while barrier " + std::to_string(epoch_) + " was open",
               1});
    return;
  }
  entered_[host] = true;
  ++count_;
  for (auto& kv : in.kvs)
    kvs_.push_back(std::move(kv));
  if (count_ < hosts_.size()) return;
  PmiBarrierOut out;
  out.epoch = epoch_;
  out.kvs = std::move(kvs_);
  const std::string frame = encode(out);
  for (uint32_t h = 0; h < hosts_.size(); ++h)
    hosts_.send(h, frame);
  kvs_.clear();
  entered_.assign(hosts_.size(), false);
  count_ = 0;
  ++epoch_;
}

void PmiCoordinator::on_port_reserved(uint32_t host, const PortReserved& reserved) {
  if (host != 0 || reserved.host_rank != 0) return;  // only asked of host 0
  reserved_port_ = reserved.port;
  changed_.notify();
}

asio::awaitable<Status> PmiCoordinator::add_rendezvous(std::vector<std::string>& env,
                                                       Millis timeout) {
  if (hosts_.size() == 0) co_return Status{};
  if (!has_env(env, "MASTER_ADDR")) {
    if (const char* v = std::getenv("MASTER_ADDR"))
      env.push_back(std::string("MASTER_ADDR=") + v);
    else
      env.push_back("MASTER_ADDR=" + master_addr());
  }
  if (has_env(env, "MASTER_PORT")) co_return Status{};
  if (const char* v = std::getenv("MASTER_PORT")) {
    env.push_back(std::string("MASTER_PORT=") + v);
    co_return Status{};
  }
  reserved_port_.reset();
  hosts_.send(0, ReservePort{});
  co_await changed_.wait_until([&] { return job_.failed() || reserved_port_.has_value(); },
                               std::chrono::steady_clock::now() + timeout);
  if (job_.failed()) co_return make_error(Errc::failed, job_.failure()->message);
  if (reserved_port_ && *reserved_port_ != 0)
    env.push_back("MASTER_PORT=" + std::to_string(*reserved_port_));
  else
    log::warn("host 0 found no free TCP port; MASTER_PORT is not set");
  co_return Status{};
}

// Where rank 0's host can be reached: the address its agent listens on for a
// remote host, loopback for one on this machine.
std::string PmiCoordinator::master_addr() const {
  if (hosts_.size() > 0) {
    auto addr = Address::parse(hosts_.hosts()[0].address);
    if (addr && addr->kind == Address::Kind::tcp && !addr->host.empty() &&
        addr->host != "0.0.0.0" && addr->host != "::")
      return addr->host;
  }
  return "127.0.0.1";
}

}  // namespace meshrun
