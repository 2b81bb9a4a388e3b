#include "wire/messages.hpp"

namespace meshrun {
namespace {

template <class M>
Result<Message> decode_as(Reader& r) {
  M m;
  r.get(m);
  if (!r.ok())
    return make_error(Errc::protocol,
                      std::string(type_name(M::kType)) + " message is truncated or malformed");
  if (!r.at_end())
    return make_error(Errc::protocol,
                      std::string(type_name(M::kType)) + " message has trailing bytes");
  return Message{std::move(m)};
}

template <size_t I = 0>
Result<Message> decode_index(uint16_t type, Reader& r) {
  if constexpr (I == std::variant_size_v<Message>) {
    return make_error(Errc::protocol, "unknown message type " + std::to_string(type));
  } else {
    using M = std::variant_alternative_t<I, Message>;
    if (static_cast<uint16_t>(M::kType) == type) return decode_as<M>(r);
    return decode_index<I + 1>(type, r);
  }
}

}  // namespace

Result<MsgType> peek_type(std::string_view payload) {
  Reader r(payload);
  uint16_t t = 0;
  r.get(t);
  if (!r.ok()) return make_error(Errc::protocol, "message shorter than its type id");
  return static_cast<MsgType>(t);
}

Result<Message> decode(std::string_view payload) {
  Reader r(payload);
  uint16_t t = 0;
  r.get(t);
  if (!r.ok()) return make_error(Errc::protocol, "message shorter than its type id");
  return decode_index(t, r);
}

std::string_view type_name(MsgType type) {
  switch (type) {
    case MsgType::heartbeat:
      return "Heartbeat";
    case MsgType::agent_hello:
      return "AgentHello";
    case MsgType::become_host:
      return "BecomeHost";
    case MsgType::host_ready:
      return "HostReady";
    case MsgType::create_procs:
      return "CreateProcs";
    case MsgType::proc_status:
      return "ProcStatus";
    case MsgType::spawn_actors:
      return "SpawnActors";
    case MsgType::actor_status:
      return "ActorStatus";
    case MsgType::actor_cast:
      return "ActorCast";
    case MsgType::port_reply:
      return "PortReply";
    case MsgType::output:
      return "Output";
    case MsgType::stop_procs:
      return "StopProcs";
    case MsgType::host_stopped:
      return "HostStopped";
    case MsgType::signal_procs:
      return "SignalProcs";
    case MsgType::input:
      return "Input";
    case MsgType::pmi_barrier_in:
      return "PmiBarrierIn";
    case MsgType::pmi_barrier_out:
      return "PmiBarrierOut";
    case MsgType::pmi_abort_rank:
      return "PmiAbortRank";
    case MsgType::reserve_port:
      return "ReservePort";
    case MsgType::port_reserved:
      return "PortReserved";
    case MsgType::routed:
      return "Routed";
    case MsgType::host_failed:
      return "HostFailed";
    case MsgType::host_directory:
      return "HostDirectory";
    case MsgType::peer_hello:
      return "PeerHello";
    case MsgType::stop_actors:
      return "StopActors";
    case MsgType::undeliverable:
      return "Undeliverable";
    case MsgType::name_request:
      return "NameRequest";
    case MsgType::name_reply:
      return "NameReply";
  }
  return "Unknown";
}

}  // namespace meshrun
