// The actors of one process and what they can do: a proc hosts its actor
// meshes' actors here; the launcher hosts its controller the same way
// (control/controller_host.hpp). It creates actors from plugins, hands each
// message to its actor in order, and gives actors the calls of the plugin
// ABI 1.1: send to any reference, open a port for a call, answer a port
// later or through another actor, choose a free actor. Frames leave through
// `out`; frames that arrive are handed to deliver().
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "plugin/actor_services.hpp"
#include "plugin/plugin_library.hpp"
#include "route/port_table.hpp"
#include "wire/actor_frames.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class ActorHost : public ActorServices {
 public:
  // Where this process's frames go; `target` is set for an ActorCast.
  using Out = std::function<void(const MeshRef* target, const Endpoint& to, std::string frame)>;

  ActorHost(asio::io_context& io, Endpoint self, Out out);
  ~ActorHost() override;

  // Frames for this process: SpawnActors, StopActors, ActorCast, PortReply,
  // Undeliverable. False for any other type.
  bool deliver(const Message& msg);
  void spawn(const SpawnActors& msg);
  void stop_mesh(uint32_t mesh);
  void stop_all();
  // Takes no new calls or ports; those open stay open.
  void refuse_calls();
  // Fails every open port (the job is ending).
  void close(const std::string& why);
  size_t actor_count() const { return actors_.size(); }
  const Endpoint& self() const { return self_; }
  uint64_t late_replies() const { return ports_.late_replies(); }

  // ActorServices (an actor's calls).
  Status send(const Caller& from, const MeshRef& to, std::string_view message,
              std::string_view payload, const PortRef* port, std::string_view fields = {}) override;
  // An ActorCast for this process, its parts still in the frame.
  void deliver_cast(const CastHead& head, const MeshRef& target, std::string_view message,
                    std::string_view payload);
  Result<PortRef> open_port(const Caller& from, const MeshRef& to, ReducerKind reducer,
                            Millis timeout, uint64_t cookie) override;
  Status port_reply(const Caller& from, const PortRef& port, std::string_view data,
                    bool failure) override;
  Result<MeshRef> choose(const Caller& from, const MeshRef& among) override;

  // What a finished call was, for whoever reports calls (the launcher's --json).
  struct CallInfo {
    MeshRef target;
    std::string message;
    ReducerKind reducer = ReducerKind::none;
    std::chrono::steady_clock::time_point started;
  };

 protected:
  // A port whose result goes to `done` instead of an actor's on_done.
  Result<PortRef> open_port_with(const Caller& from, const MeshRef& to, ReducerKind reducer,
                                 Millis timeout, PortTable::Done done);
  // A call of this process finished (after send() used one of its ports).
  virtual void call_finished(const CallInfo&, const CallResult&) {}
  const std::map<uint64_t, CallInfo>& calls() const { return calls_; }
  // Fails the outstanding ranks of open calls that `lost` says are gone.
  void fail_calls_where(const std::function<bool(const MeshRef&, uint32_t rank)>& lost,
                        const std::string& cause);
  // An actor of this process failed (a handler, a result hook, an
  // undeliverable message it does not handle): report it.
  virtual void actor_failed(uint32_t mesh, uint32_t rank, const std::string& actor_id,
                            const std::string& why);
  // A spawn or stop happened here: report it (procs tell the launcher).
  virtual void actor_status(const ActorStatus& status);
  // Hosts an instance made elsewhere (the launcher's controller).
  void adopt(uint32_t mesh, uint32_t rank, std::unique_ptr<ActorInstance> instance);
  ActorInstance* find(uint32_t mesh, uint32_t rank);
  void emit(const MeshRef* target, const Endpoint& to, std::string frame) {
    out_(target, to, std::move(frame));
  }
  bool closed() const { return closed_; }
  asio::io_context& io_;

 private:
  struct Hosted {
    std::unique_ptr<ActorInstance> instance;
    MeshRef mesh;
  };
  using Key = std::pair<uint32_t, uint32_t>;  // mesh id, actor rank
  void deliver_reply(const PortReply& reply);
  void deliver_undeliverable(const Undeliverable& u);
  Result<std::shared_ptr<PluginLibrary>> library(const std::string& path);
  void check(const Key& key);  // reports a failure a hook left behind

  Endpoint self_;
  Out out_;
  std::map<Key, Hosted> actors_;
  std::map<std::string, std::shared_ptr<PluginLibrary>> libraries_;
  PortTable ports_;
  // Calls in flight from this process, by (mesh, actor rank) called, for choose().
  std::map<Key, uint32_t> in_flight_;
  std::map<uint64_t, CallInfo> calls_;  // by port id, once sent
  uint32_t choose_turn_ = 0;
  bool closed_ = false;
};

}  // namespace meshrun
